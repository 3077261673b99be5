"""Feedback over the day-partitioned log (PostgreSQL): one UPDATE per batch, the optional
`served_on` day, HOT updates, jsonb idempotency and a token's model list."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from control_plane.tokens import token_create_from_shell
from monitoring import log_partitions
from monitoring.models import PredictionLog
from monitoring.prediction_log import log_predictions

from .conftest import make_record

URL = "/api/v1/predictions/feedback/"
MONDAY = datetime(2025, 3, 3, 23, 30, tzinfo=UTC)  # days no other test uses
TUESDAY = MONDAY + timedelta(hours=1)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_days(direct):
    """req-000001 served on Monday and served again on Tuesday (two rows, two partitions);
    req-000002 on Tuesday, with its shadow."""
    log_predictions([make_record(1, timestamp=MONDAY), make_record(1, timestamp=TUESDAY),
                     make_record(2, timestamp=TUESDAY), make_record(2, timestamp=TUESDAY, variant="shadow")])


def _truths() -> dict:
    return {(r.request_id, r.ts, r.variant): r.ground_truth for r in PredictionLog.objects.all()}


def test_without_a_day_every_day_of_the_request_id_gets_it(api, contributor, two_days):
    answer = api(contributor).post(URL, [{"request_id": "req-000001", "ground_truth": "churned"}], format="json")

    assert answer.json() == {"updated": 1, "unchanged": 0, "rows_updated": 2, "unknown": []}
    assert _truths()[("req-000001", MONDAY, "champion")] == "churned"
    assert _truths()[("req-000001", TUESDAY, "champion")] == "churned"


def test_served_on_limits_feedback_to_that_day(api, contributor, two_days):
    body = [{"request_id": "req-000001", "ground_truth": 1, "served_on": "2025-03-04"},
            {"request_id": "req-000002", "ground_truth": 0, "served_on": "2025-03-04"}]

    answer = api(contributor).post(URL, body, format="json")

    assert answer.json() == {"updated": 2, "unchanged": 0, "rows_updated": 3, "unknown": []}
    assert _truths() == {
        ("req-000001", MONDAY, "champion"): None,
        ("req-000001", TUESDAY, "champion"): 1,
        ("req-000002", TUESDAY, "champion"): 0,
        ("req-000002", TUESDAY, "shadow"): 0,
    }


def test_a_wrong_day_leaves_the_request_id_unknown(api, contributor, two_days):
    answer = api(contributor).post(
        URL, [{"request_id": "req-000002", "ground_truth": 1, "served_on": "2025-03-03"}], format="json")

    assert answer.json() == {"updated": 0, "unchanged": 0, "rows_updated": 0, "unknown": ["req-000002"]}
    assert set(_truths().values()) == {None}


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_the_first_and_last_dates_are_days_like_any_other(api, contributor, two_days, day):
    answer = api(contributor).post(URL, [{"request_id": "req-000001", "ground_truth": 1, "served_on": day}],
                                   format="json")

    assert answer.json() == {"updated": 0, "unchanged": 0, "rows_updated": 0, "unknown": ["req-000001"]}


@pytest.mark.parametrize("day", ["2025-3-4", "2025-03-04T10:00:00Z", "tuesday", 20250304, "2025-02-30"])
def test_served_on_must_be_a_date(api, contributor, two_days, day):
    answer = api(contributor).post(URL, [{"request_id": "req-000001", "ground_truth": 1, "served_on": day}],
                                   format="json")

    assert answer.status_code == 422, answer.json()
    assert "served_on" in answer.json()["error"]["details"]["0"]
    assert set(_truths().values()) == {None}


def test_the_same_object_in_another_key_order_is_unchanged(api, contributor, two_days):
    client = api(contributor)
    client.post(URL, [{"request_id": "req-000002", "ground_truth": {"label": 1, "source": "crm"}}], format="json")
    stamped = sorted(PredictionLog.objects.values_list("ground_truth_at", flat=True), key=str)

    again = client.post(URL, [{"request_id": "req-000002", "ground_truth": {"source": "crm", "label": 1}}],
                        format="json")

    assert again.json() == {"updated": 0, "unchanged": 1, "rows_updated": 0, "unknown": []}
    assert sorted(PredictionLog.objects.values_list("ground_truth_at", flat=True), key=str) == stamped


def test_a_token_limited_to_other_models_sees_no_row_of_this_one(client, contributor, direct):
    log_predictions([make_record(1, timestamp=TUESDAY), make_record(1, model="fraud-detector", timestamp=TUESDAY)])
    token = token_create_from_shell(owner=contributor, name="fraud only", models=["fraud-detector"]).secret

    answer = client.post(URL, [{"request_id": "req-000001", "ground_truth": 1},
                               {"request_id": "req-000001-x", "ground_truth": 1}],
                         content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    hidden = client.post(URL, [{"request_id": "req-000001", "ground_truth": 1, "model": "churn-predictor"}],
                         content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert answer.json() == {"updated": 1, "unchanged": 0, "rows_updated": 1, "unknown": ["req-000001-x"]}
    assert hidden.json()["unknown"] == ["req-000001"]
    assert dict(PredictionLog.objects.values_list("model_name", "ground_truth")) == {
        "fraud-detector": 1, "churn-predictor": None}


def test_ground_truth_is_a_hot_update_in_a_partition_with_room(api, contributor, direct):
    """A batch labelling one row in ten of the day: every new row version fits on its page
    (fillfactor 90), so no index is written. (A batch labelling every row of a page at once
    fills the room after about two rows of ten; labels arriving in later batches find the
    space of the versions pruned meanwhile.)"""
    log_predictions([make_record(i, timestamp=TUESDAY + timedelta(seconds=i)) for i in range(500)])
    partition = log_partitions.partition_name(TUESDAY.date())
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [partition])
        assert cursor.fetchone()[0] == [f"fillfactor={log_partitions.FILLFACTOR}"]

    answer = api(contributor).post(URL, [{"request_id": f"req-{i:06d}", "ground_truth": i % 2}
                                         for i in range(0, 500, 10)], format="json")

    assert answer.json()["rows_updated"] == 50
    with connection.cursor() as cursor:  # this transaction's own counts (the test runs in one)
        cursor.execute("SELECT pg_stat_get_xact_tuples_updated(%s::regclass), "
                       "pg_stat_get_xact_tuples_hot_updated(%s::regclass)", [partition, partition])
        assert cursor.fetchone() == (50, 50)
