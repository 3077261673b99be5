"""GET /api/v1/predictions/ and the retention purge."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from monitoring.models import PredictionLog
from monitoring.prediction_log import log_predictions
from monitoring.services import predictions_purge
from monitoring.tasks import purge_predictions

from .conftest import make_record

URL = "/api/v1/predictions/"
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(direct):
    log_predictions(
        [
            make_record(1, timestamp=T0),
            make_record(1, variant="shadow", version=2, timestamp=T0),
            make_record(2, timestamp=T0 + timedelta(hours=1)),
            make_record(3, timestamp=T0 + timedelta(hours=2)),
            make_record(4, model="fraud-detector", timestamp=T0 + timedelta(hours=3)),
        ]
    )
    PredictionLog.objects.filter(request_id="req-000002").update(ground_truth=1, ground_truth_at=T0)


def ids(answer) -> list[tuple[str, str]]:
    assert answer.status_code == 200, answer.json()
    return [(r["request_id"], r["variant"]) for r in answer.json()["results"]]


def test_viewer_lists_predictions_newest_first_in_the_rule_book_schema(api, viewer, logged):
    answer = api(viewer).get(URL, {"model": "churn-predictor"})

    assert ids(answer) == [("req-000003", "champion"), ("req-000002", "champion"),
                           ("req-000001", "shadow"), ("req-000001", "champion")]
    row = answer.json()["results"][0]
    assert {"request_id", "model_name", "model_version", "timestamp", "features", "prediction", "latency_ms",
            "ground_truth", "variant", "deployment_id"} <= set(row)
    assert row["timestamp"] == "2026-05-01T14:00:00Z"
    assert row["features"] == {"tenure_months": 3.0, "plan": "pro", "monthly_spend": 13.0}


def test_filters(api, viewer, logged):
    client = api(viewer)
    assert ids(client.get(URL, {"model": "churn-predictor", "version": 2})) == [("req-000001", "shadow")]
    assert ids(client.get(URL, {"model": "churn-predictor", "variant": "shadow"})) == [("req-000001", "shadow")]
    assert ids(client.get(URL, {"has_ground_truth": "true"})) == [("req-000002", "champion")]
    assert len(ids(client.get(URL, {"model": "churn-predictor", "has_ground_truth": "false"}))) == 3
    window = {"since": "2026-05-01T13:00:00Z", "until": "2026-05-01T15:00:00Z"}
    assert ids(client.get(URL, window)) == [("req-000003", "champion"), ("req-000002", "champion")]
    assert ids(client.get(URL, {"request_id": "req-000001", "variant": "champion"})) == [("req-000001", "champion")]
    assert ids(client.get(URL, {"model": "no-such-model"})) == []


def test_cursor_pages_cover_every_row_once(api, viewer, logged):
    client = api(viewer)
    seen, answer = [], client.get(URL, {"page_size": 2})
    while True:
        seen += ids(answer)
        if not answer.json()["next"]:
            break
        answer = client.get(answer.json()["next"])
    assert len(seen) == 5 == len(set(seen))


@pytest.mark.parametrize("query, field", [({"since": "yesterday"}, "since"), ({"until": "2026-05-01T10:00:00"}, "until"),
                                          ({"version": "two"}, "version"), ({"has_ground_truth": "maybe"}, "has_ground_truth")])
def test_bad_filters_answer_422(api, viewer, logged, query, field):
    answer = api(viewer).get(URL, query)
    assert answer.status_code == 422
    assert field in answer.json()["error"]["details"]


def test_anonymous_may_not_list(client, logged):
    assert client.get(URL).status_code == 401


def test_purge_deletes_only_rows_older_than_the_retention(direct, settings):
    settings.PREDICTION_RETENTION_DAYS = 30
    now = timezone.now()
    log_predictions([make_record(i, timestamp=now - timedelta(days=31, minutes=i)) for i in range(7)])
    log_predictions([make_record(100 + i, timestamp=now - timedelta(days=29)) for i in range(3)])

    purged = predictions_purge(batch_size=3)
    assert (purged.rows, len(purged.partitions)) in [(0, 1), (0, 2)]  # PostgreSQL: whole days (7 rows, 1 or 2 days)

    assert sorted(PredictionLog.objects.values_list("request_id", flat=True)) == ["req-000100", "req-000101", "req-000102"]
    assert predictions_purge() == (0, [])


def test_purge_command_and_task(direct, settings, capsys):
    settings.PREDICTION_RETENTION_DAYS = 90
    now = timezone.now()
    log_predictions([make_record(1, timestamp=now - timedelta(days=91)), make_record(2, timestamp=now - timedelta(days=11))])

    assert len(purge_predictions.apply().get()["partitions"]) == 1
    call_command("purge_predictions", "--days", "10")
    assert "Dropped 1 day partition(s) of the prediction log" in capsys.readouterr().out
    assert not PredictionLog.objects.exists()


def test_zero_retention_keeps_everything(direct, settings):
    settings.PREDICTION_RETENTION_DAYS = 0
    log_predictions([make_record(1, timestamp=timezone.now() - timedelta(days=3650))])
    assert predictions_purge() == (0, [])
    assert PredictionLog.objects.count() == 1
