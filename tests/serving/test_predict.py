"""The predict and invocations endpoints against real models, tokens and the log."""

import json

import pytest

from monitoring.models import PredictionLog
from registry.models import ModelVersion
from serving import services as deployments
from tests.processes import wait_for

from .conftest import ROW

pytestmark = pytest.mark.django_db
URL = "/api/v1/serve/churn-predictor/predict"



def post(client, body, url=URL, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def test_predict_answers_label_probability_version_variant_and_logs_it(api, served, viewer):
    client = api(viewer)

    r = post(client, {"instances": [ROW], "request_id": "req-1"})

    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["model_version"] == 1 and body["variant"] == "champion" and body["request_id"] == "req-1"
    assert body["predictions"][0]["label"] == 1 and 0.5 < body["predictions"][0]["probability"] <= 1
    assert r["X-Request-ID"] == "req-1"
    row = PredictionLog.objects.get(request_id="req-1")
    assert (row.model_name, row.model_version, row.variant) == ("churn-predictor", 1, "champion")
    assert row.features == ROW and row.prediction == body["predictions"][0] and row.latency_ms > 0


def test_many_rows_get_one_request_id_each(api, served, viewer):
    r = post(api(viewer), {"instances": [ROW, {**ROW, "support_tickets": 0, "tenure_months": 40.0}]})

    assert r.status_code == 200
    ids = r.json()["request_ids"]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert set(PredictionLog.objects.values_list("request_id", flat=True)) == set(ids)


@pytest.mark.parametrize(
    "row, fields",
    [
        ({"monthly_spend": 50.0, "support_tickets": 7}, {"tenure_months"}),
        ({**ROW, "plan": "pro"}, {"plan"}),
        ({**ROW, "support_tickets": "seven"}, {"support_tickets"}),
        ({**ROW, "monthly_spend": None}, {"monthly_spend"}),
    ],
)
def test_schema_violations_are_422_naming_the_fields_and_nothing_is_logged(api, served, viewer, row, fields):
    r = post(api(viewer), {"instances": [ROW, row]})

    assert r.status_code == 422, r.json()
    problems = r.json()["error"]["details"]["problems"]
    assert {p["field"] for p in problems} == fields and {p["row"] for p in problems} == {1}
    assert not PredictionLog.objects.exists()


def test_nan_and_infinity_are_named_not_scored(api, served, viewer):
    body = '{"instances": [{"tenure_months": NaN, "monthly_spend": Infinity, "support_tickets": 1}]}'

    r = api(viewer).post(URL, body, content_type="application/json")

    assert r.status_code == 422
    assert {p["field"] for p in r.json()["error"]["details"]["problems"]} == {"tenure_months", "monthly_spend"}
    assert not PredictionLog.objects.exists()


def test_unknown_model_nothing_deployed_no_token_and_wrong_model_token(api, client, served, viewer, contributor):
    from registry import services

    services.model_create(actor=contributor, name="empty-model")
    c = api(viewer)
    assert post(c, {"instances": [ROW]}, url="/api/v1/serve/nope/predict").json()["error"]["code"] == "model_not_found"
    r = post(c, {"instances": [ROW]}, url="/api/v1/serve/empty-model/predict")
    assert r.status_code == 404 and r.json()["error"]["code"] == "nothing_deployed"
    assert post(client, {"instances": [ROW]}).status_code == 401
    limited = api(viewer, serve_only=True, models=["other-model"])
    assert post(limited, {"instances": [ROW]}).status_code == 403
    allowed = api(viewer, serve_only=True, models=["churn-predictor"])
    assert post(allowed, {"instances": [ROW]}).status_code == 200
    assert allowed.get("/api/v1/models/").status_code == 403  # serve-only tokens only serve


def test_a_model_that_cannot_be_loaded_answers_503(api, served, viewer, contributor, approver, tmp_path):
    from tests.conftest import promote

    from .conftest import SERVING_SCHEMA

    promote(contributor, approver, source=f"file://{tmp_path}/missing", schema=SERVING_SCHEMA)

    r = post(api(viewer), {"instances": [ROW]})

    assert r.status_code == 503
    assert r.json()["error"]["code"] == "model_unavailable" and "v3" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": list(ROW), "data": [list(ROW.values())]}},
        {"dataframe_records": [ROW]},
        {"instances": [ROW]},
        {"inputs": {k: [v] for k, v in ROW.items()}},
    ],
)
def test_invocations_speaks_mlflows_scoring_protocol(api, served, viewer, body):
    r = post(api(viewer), body, url="/api/v1/serve/churn-predictor/invocations")

    assert r.status_code == 200, r.json()
    assert r.json() == {"predictions": [1]}
    assert r["X-Model-Version"] == "1" and r["X-Variant"] == "champion" and r["X-Request-ID"]
    assert PredictionLog.objects.count() == 1


def test_invocations_accepts_csv(api, served, viewer):
    csv_body = "tenure_months,monthly_spend,support_tickets\n3.0,50.0,7\n40.0,20.0,0\n"

    r = api(viewer).post("/api/v1/serve/churn-predictor/invocations", csv_body, content_type="text/csv")

    assert r.status_code == 200, r.json()
    assert r.json() == {"predictions": [1, 0]}


@pytest.mark.django_db(transaction=True)  # the shadow thread writes on its own connection
def test_shadow_challenger_is_logged_never_returned(api, served, viewer, contributor):
    deployments.deployment_configure(actor=contributor, model_name="churn-predictor", strategy="shadow", challenger_version=2)
    r = post(api(viewer), {"instances": [ROW], "request_id": "shadowed"})

    assert r.status_code == 200 and r.json()["variant"] == "champion" and r.json()["predictions"][0]["label"] == 1
    wait_for(lambda: PredictionLog.objects.filter(request_id="shadowed", variant="shadow").exists())
    shadow_row = PredictionLog.objects.get(request_id="shadowed", variant="shadow")
    assert shadow_row.model_version == 2 and shadow_row.prediction["label"] == 0  # v2 flips labels


def test_canary_routing_is_sticky_as_the_weight_rises(api, served, viewer, approver):
    deployments.deployment_configure(
        actor=approver, model_name="churn-predictor", strategy="canary", challenger_version=2, steps=[20, 50, 100]
    )
    client = api(viewer)
    keys = [f"user-{i}" for i in range(60)]

    def variants():
        from serving.router import routing_table

        routing_table.invalidate()
        return {k: post(client, {"instances": [ROW], "routing_key": k}).json()["variant"] for k in keys}

    at_20 = variants()
    from serving.models import Deployment

    Deployment.objects.filter(state="active").update(challenger_weight=50)
    at_50 = variants()

    on_challenger_20 = {k for k, v in at_20.items() if v == "challenger"}
    on_challenger_50 = {k for k, v in at_50.items() if v == "challenger"}
    assert on_challenger_20 and on_challenger_20 < on_challenger_50 < set(keys)


def test_blue_green_cutover_and_rollback_move_all_traffic(api, served, viewer, contributor, approver, approver2):
    """Cutover is the approved promotion itself (see test_traffic_ceiling); the way back
    is the registry's rollback, and the router follows both."""
    from registry import services as registry_services

    deployments.deployment_configure(actor=approver, model_name="churn-predictor", strategy="blue_green", challenger_version=2)
    request = registry_services.promotion_request(actor=contributor, model_name="churn-predictor", version=2)
    registry_services.promotion_approve(actor=approver2, request_id=request.pk, override_reason="blue/green")
    client = api(viewer)
    a = api(approver)

    def served_version():
        from serving.router import routing_table

        routing_table.invalidate()
        return post(client, {"instances": [ROW]}).json()["model_version"]

    assert served_version() == 1
    assert a.post("/api/v1/models/churn-predictor/deployment/cutover/", {}, format="json").status_code == 200
    assert served_version() == 2 and ModelVersion.objects.get(version=2).stage == "production"
    assert a.post("/api/v1/models/churn-predictor/rollback/", {"reason": "v2 misbehaves"}, format="json").status_code == 200
    assert served_version() == 1
    assert ModelVersion.objects.get(version=1).stage == "production"


def test_token_checks_are_cached_until_the_journal_moves(api, served, viewer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from control_plane.tokens import token_revoke
    from serving.router import routing_table

    client = api(viewer)
    assert post(client, {"instances": [ROW]}).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert post(client, {"instances": [ROW]}).status_code == 200
    assert not [q for q in queries if "control_plane_apitoken" in q["sql"]], "the token was read again"

    from control_plane.models import ApiToken

    token_revoke(actor=viewer, token_id=ApiToken.objects.get(user=viewer).pk)
    routing_table.invalidate()  # what the next journal check (every 0.25 s) does

    r = post(client, {"instances": [ROW]})
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]


def test_the_array_fast_path_scores_like_a_dataframe(served):
    from registry.model_loading import load_version
    from serving.scoring import score

    from .conftest import SERVING_SCHEMA

    loaded = load_version(served[0])
    rows = [ROW, {"tenure_months": 40.0, "monthly_spend": 20.0, "support_tickets": 0}]

    from serving.scoring import _needs_frame

    assert score(loaded, rows, SERVING_SCHEMA) == score(loaded, rows)  # array path == DataFrame path
    assert id(loaded) not in _needs_frame  # the array path was taken, not fallen back from
