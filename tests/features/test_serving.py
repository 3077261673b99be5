"""Serving with a feature service: entity keys in, online features merged (request values
win), validated as before, the full snapshot logged; missing features refused by name;
a version whose schema lacks the service's features is refused at registration and on
tag edits."""

from datetime import timedelta

import pytest
from django.utils import timezone

from control_plane.errors import Conflict, Invalid
from features.services import definitions_apply, push_rows
from monitoring.models import PredictionLog
from registry import model_loading
from registry import services as registry
from tests.conftest import promote, register_version
from tests.serving.conftest import SERVING_SCHEMA, save_classifier

TAG = {"features.service": "churn_serving:1"}


@pytest.fixture(scope="module")
def model_uri(tmp_path_factory):
    return save_classifier(tmp_path_factory.mktemp("fmodel") / "m")


@pytest.fixture
def feature_service(db, contributor, settings):
    settings.PREDICTION_LOG_BACKEND = "direct"
    model_loading.cache_clear()
    from serving.router import routing_table

    routing_table.invalidate()
    definitions_apply(actor=contributor, document={
        "entities": [{"name": "customer", "join_keys": [{"name": "user_id", "type": "int"}]}],
        "feature_views": [{"name": "customer_stats", "entity": "customer", "source": {"kind": "push"}, "ttl": "1h",
                           "features": [{"name": "tenure_months", "type": "float"}, {"name": "monthly_spend", "type": "float"},
                                        {"name": "support_tickets", "type": "int"}]}],
        "feature_services": [{"name": "churn_serving", "features": [
            "customer_stats:tenure_months", "customer_stats:monthly_spend", "customer_stats:support_tickets"]}],
    })
    now = timezone.now()
    push_rows(actor=contributor, view_name="customer_stats", rows=[
        {"user_id": 1, "event_timestamp": (now - timedelta(minutes=5)).isoformat(), "tenure_months": 3.0,
         "monthly_spend": 50.0, "support_tickets": 7},
        {"user_id": 3, "event_timestamp": (now - timedelta(hours=2)).isoformat(), "tenure_months": 30.0,
         "monthly_spend": 20.0, "support_tickets": 0},  # older than the TTL
    ])
    yield
    model_loading.cache_clear()


def test_entity_keys_only_then_merged_and_logged(feature_service, model_uri, contributor, approver, api, viewer, registered_model):
    promote(contributor, approver, source=model_uri, schema=SERVING_SCHEMA, tags=TAG)
    client = api(viewer)
    answer = client.post("/api/v1/serve/churn-predictor/predict", {"instances": [{"user_id": 1}], "request_id": "f-1"},
                         format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["predictions"][0]["label"] == 1
    logged = PredictionLog.objects.get(request_id="f-1")
    assert logged.features == {"user_id": 1, "tenure_months": 3.0, "monthly_spend": 50.0, "support_tickets": 7}
    # Request-time values win over the online ones.
    answer = client.post("/api/v1/serve/churn-predictor/predict",
                         {"instances": [{"user_id": 1, "support_tickets": 0, "tenure_months": 50.0}], "request_id": "f-2"},
                         format="json")
    assert answer.status_code == 200
    assert PredictionLog.objects.get(request_id="f-2").features["support_tickets"] == 0
    # Unknown and stale keys: refused by the service's policy, naming the features.
    answer = client.post("/api/v1/serve/churn-predictor/predict", {"instances": [{"user_id": 2}, {"user_id": 3}]},
                         format="json")
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "features_missing"
    problems = answer.json()["error"]["details"]["problems"]
    assert {(p["row"], p["problem"]) for p in problems} == {(0, "not_found"), (1, "outside_ttl")}
    assert answer.json()["error"]["details"]["fields"] == ["monthly_spend", "support_tickets", "tenure_months"]
    # The Production version's service cannot be changed (or removed) without a promotion; other tags can.
    registry.version_update(actor=contributor, model_name="churn-predictor", version=1, tags={**TAG, "team": "growth"})
    with pytest.raises(Conflict) as refused:
        registry.version_update(actor=contributor, model_name="churn-predictor", version=1, tags={})
    assert refused.value.code == "tag_locked_in_production"
    # MLflow's scoring protocol goes through the same merge.
    answer = client.post("/api/v1/serve/churn-predictor/invocations", {"dataframe_records": [{"user_id": 1}]}, format="json")
    assert answer.status_code == 200 and answer.json()["predictions"][0] == 1
    # A missing key is named too.
    answer = client.post("/api/v1/serve/churn-predictor/predict", {"instances": [{"tenure_months": 1.0}]}, format="json")
    assert answer.status_code == 422 and "instances[0].user_id" not in answer.json()["error"]["details"]
    assert "user_id" in answer.json()["error"]["message"]


def test_null_policy_passes_null_and_the_schema_decides(feature_service, model_uri, contributor, approver, api, viewer,
                                                         registered_model):
    definitions_apply(actor=contributor, document={"feature_services": [{"name": "churn_serving", "on_missing": "null",
                      "features": ["customer_stats:tenure_months", "customer_stats:monthly_spend",
                                   "customer_stats:support_tickets"]}]})
    promote(contributor, approver, source=model_uri, schema=SERVING_SCHEMA, tags={"features.service": "churn_serving:2"})
    answer = api(viewer).post("/api/v1/serve/churn-predictor/predict", {"instances": [{"user_id": 2}]}, format="json")
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "schema_violation"
    assert set(answer.json()["error"]["details"]["fields"]) == {"tenure_months", "monthly_spend", "support_tickets"}


def test_schema_must_hold_the_services_features(feature_service, contributor, registered_model):
    lacking = [c for c in SERVING_SCHEMA if c["name"] != "monthly_spend"]
    with pytest.raises(Invalid) as refused:
        register_version(contributor, schema=lacking, tags=TAG)
    assert refused.value.status == 422
    assert "monthly_spend (customer_stats:monthly_spend, float) is not in the input schema" in refused.value.details["input_schema"]
    wrong_type = [dict(c, type="string") if c["name"] == "tenure_months" else c for c in SERVING_SCHEMA]
    mv = register_version(contributor, schema=wrong_type)
    with pytest.raises(Invalid) as refused:
        registry.version_update(actor=contributor, model_name="churn-predictor", version=mv.version, tags=TAG)
    assert refused.value.details["input_schema"] == ["tenure_months is float in customer_stats but string in the input schema"]
    with pytest.raises(Invalid):
        registry.version_update(actor=contributor, model_name="churn-predictor", version=mv.version,
                                tags={"features.service": "ghost:1"})
    good = register_version(contributor, schema=SERVING_SCHEMA)
    registry.version_update(actor=contributor, model_name="churn-predictor", version=good.version, tags=TAG)


def test_no_feature_service_path_is_unchanged(model_uri, contributor, approver, api, viewer, registered_model, settings):
    settings.PREDICTION_LOG_BACKEND = "direct"
    model_loading.cache_clear()
    promote(contributor, approver, source=model_uri, schema=SERVING_SCHEMA)
    answer = api(viewer).post("/api/v1/serve/churn-predictor/predict", {"instances": [{"user_id": 1}]}, format="json")
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "schema_violation"
