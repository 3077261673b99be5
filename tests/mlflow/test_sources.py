"""Versions registered from MLflow sources read the run and the model's signature
from the real tracking server."""

import pytest

from registry.gate import gate_evaluate
from registry.models import ModelVersion

from .conftest import FEATURES, log_sklearn_model

pytestmark = pytest.mark.django_db

EXPECTED_SCHEMA = [
    {"name": "tenure_months", "type": "double", "nullable": False},
    {"name": "monthly_spend", "type": "double", "nullable": False},
    {"name": "support_tickets", "type": "long", "nullable": False},
]


@pytest.fixture
def client_for_model(api, contributor, registered_model):
    return api(contributor)


def register(client, **body):
    return client.post("/api/v1/models/churn-predictor/versions/", body, format="json")


def test_logged_model_uri_brings_schema_metrics_params_and_flavours(tracking, client_for_model):
    run_id, info = log_sklearn_model()

    r = register(client_for_model, source=info.model_uri)

    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["input_schema"] == EXPECTED_SCHEMA
    assert body["run_id"] == run_id
    assert body["metrics"] == {"auc": 0.94, "f1": 0.87}
    assert body["params"] == {"C": "1.0", "max_iter": "200"}
    assert body["tags"] == {} and body["run_tags"] == {"team": "growth"}
    assert "sklearn" in body["flavors"] and "python_function" in body["flavors"]
    version = ModelVersion.objects.get(model__name="churn-predictor", version=body["version"])
    assert version.mlflow_model_id == info.model_id
    assert version.storage_location.endswith("/artifacts")
    assert version.output_schema and version.signature_found is True


def test_runs_uri_and_bare_run_id_resolve_to_the_same_logged_model(tracking, client_for_model):
    run_id, info = log_sklearn_model()

    by_uri = register(client_for_model, source=f"runs:/{run_id}/model")
    by_run = register(client_for_model, run_id=run_id)

    assert by_uri.status_code == 201 and by_run.status_code == 201, (by_uri.json(), by_run.json())
    assert [c["name"] for c in by_uri.json()["input_schema"]] == FEATURES
    assert by_run.json()["source"] == f"models:/{info.model_id}"
    v1, v2 = ModelVersion.objects.filter(model__name="churn-predictor").order_by("version")
    assert v1.mlflow_model_id == v2.mlflow_model_id == info.model_id


@pytest.mark.parametrize(
    "body, field",
    [
        ({"source": "runs:/0123456789abcdef0123456789abcdef/model"}, "source"),
        ({"source": "models:/m-0123456789abcdef0123456789abcdef"}, "source"),
        ({"run_id": "0123456789abcdef0123456789abcdef"}, "run_id"),
    ],
)
def test_a_source_mlflow_does_not_have_answers_422_naming_it(tracking, client_for_model, body, field):
    r = register(client_for_model, **body)

    assert r.status_code == 422, r.json()
    assert r.json()["error"]["code"] == "source_not_found"
    assert field in r.json()["error"]["details"]
    assert list(body.values())[0] in r.json()["error"]["message"]
    assert not ModelVersion.objects.exists()


def test_model_without_signature_is_accepted_but_fails_the_schema_check(tracking, client_for_model):
    _, info = log_sklearn_model(signature=False)

    r = register(client_for_model, source=info.model_uri)

    assert r.status_code == 201, r.json()
    version = ModelVersion.objects.get(version=r.json()["version"])
    assert version.input_schema == [] and version.signature_found is False
    check = {c["name"]: c for c in gate_evaluate(version)["checks"]}["serving_schema"]
    assert check["status"] == "fail"
    assert "no signature" in check["evidence"]
