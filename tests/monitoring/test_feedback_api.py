"""POST /api/v1/predictions/feedback/: ground truth in bulk."""

import pytest

from monitoring.models import PredictionLog
from monitoring.prediction_log import log_predictions

from .conftest import make_record

URL = "/api/v1/predictions/feedback/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(direct):
    log_predictions(
        [make_record(1), make_record(1, variant="shadow", version=2), make_record(2), make_record(3, model="fraud-detector")]
    )


def test_feedback_sets_ground_truth_on_every_variant_and_reports_unknown_ids(api, contributor, logged):
    answer = api(contributor).post(
        URL,
        [{"request_id": "req-000001", "ground_truth": 1}, {"request_id": "req-000002", "ground_truth": 0},
         {"request_id": "never-served", "ground_truth": 1}],
        format="json",
    )

    assert answer.status_code == 200, answer.json()
    assert answer.json() == {"updated": 2, "unchanged": 0, "rows_updated": 3, "unknown": ["never-served"]}
    rows = {(r.request_id, r.variant): r for r in PredictionLog.objects.all()}
    assert rows[("req-000001", "champion")].ground_truth == 1
    assert rows[("req-000001", "shadow")].ground_truth == 1
    assert rows[("req-000002", "champion")].ground_truth == 0
    assert rows[("req-000003", "champion")].ground_truth is None
    assert rows[("req-000001", "champion")].ground_truth_at is not None


def test_feedback_is_idempotent(api, contributor, logged):
    client = api(contributor)
    body = [{"request_id": "req-000001", "ground_truth": {"label": "churned"}}]
    assert client.post(URL, body, format="json").json()["updated"] == 1
    stamped = dict(PredictionLog.objects.values_list("variant", "ground_truth_at"))

    again = client.post(URL, body, format="json").json()

    assert again == {"updated": 0, "unchanged": 1, "rows_updated": 0, "unknown": []}
    assert dict(PredictionLog.objects.values_list("variant", "ground_truth_at")) == stamped
    # A corrected ground truth is a change.
    fixed = client.post(URL, [{"request_id": "req-000001", "ground_truth": {"label": "stayed"}}], format="json").json()
    assert fixed["updated"] == 1 and fixed["rows_updated"] == 2


def test_model_limits_feedback_to_that_model(api, contributor, direct):
    log_predictions([make_record(1), make_record(1, model="fraud-detector")])

    answer = api(contributor).post(
        URL, [{"request_id": "req-000001", "ground_truth": True, "model": "fraud-detector"}], format="json"
    ).json()
    missing = api(contributor).post(
        URL, [{"request_id": "req-000001", "ground_truth": True, "model": "no-such-model"}], format="json"
    ).json()

    assert answer["rows_updated"] == 1 and missing["unknown"] == ["req-000001"]
    assert dict(PredictionLog.objects.values_list("model_name", "ground_truth")) == {
        "fraud-detector": True,
        "churn-predictor": None,
    }


def test_ten_thousand_items_in_one_call(api, admin, direct):
    log_predictions([make_record(i) for i in range(10_000)])
    body = [{"request_id": f"req-{i:06d}", "ground_truth": i % 2} for i in range(10_000)]

    answer = api(admin).post(URL, body, format="json")

    assert answer.status_code == 200
    assert answer.json()["updated"] == 10_000
    assert PredictionLog.objects.filter(ground_truth__isnull=True).count() == 0
    assert PredictionLog.objects.filter(ground_truth=1).count() == 5_000


def test_more_than_ten_thousand_items_is_too_large(api, contributor, db):
    answer = api(contributor).post(URL, [{"request_id": f"r{i}", "ground_truth": 1} for i in range(10_001)], format="json")
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    "body, index, field",
    [
        ([{"request_id": "a", "ground_truth": 1}, {"ground_truth": 1}], "1", "request_id"),
        ([{"request_id": "a"}], "0", "ground_truth"),
        ([{"request_id": "a", "ground_truth": None}], "0", "ground_truth"),
        ([{"request_id": "a", "ground_truth": 1}, {"request_id": "b", "ground_truth": 1, "label": 1}], "1", "label"),
        ([{"request_id": 5, "ground_truth": 1}], "0", "request_id"),
        ([{"request_id": "a", "ground_truth": 1, "model": ["m"]}], "0", "model"),
        ([{"request_id": "a", "ground_truth": 1}, {"request_id": "a", "ground_truth": 0}], "1", "request_id"),
        ([{"request_id": "a", "ground_truth": 1}, "a"], "1", "non_field_errors"),
    ],
)
def test_invalid_items_answer_422_naming_the_item(api, contributor, logged, body, index, field):
    answer = api(contributor).post(URL, body, format="json")

    assert answer.status_code == 422, answer.json()
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"][index]
    assert f"Item {index}" in error["message"]
    assert not PredictionLog.objects.filter(ground_truth__isnull=False).exists()  # nothing half-written


def test_a_body_that_is_not_a_list_is_refused(api, contributor, db):
    answer = api(contributor).post(URL, {"request_id": "a", "ground_truth": 1}, format="json")
    assert answer.status_code == 422
    assert "list" in answer.json()["error"]["message"]


def test_viewer_may_not_send_feedback(api, viewer, logged):
    answer = api(viewer).post(URL, [{"request_id": "req-000001", "ground_truth": 1}], format="json")
    assert answer.status_code == 403
    assert not PredictionLog.objects.filter(ground_truth__isnull=False).exists()


def test_approver_may_not_send_feedback_and_anonymous_is_401(api, approver, client, logged):
    assert api(approver).post(URL, [], format="json").status_code == 403
    assert client.post(URL, [], content_type="application/json").status_code == 401
