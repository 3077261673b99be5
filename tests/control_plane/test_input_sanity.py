"""Input no endpoint can store or parse answers a 4xx naming the field, never a 500
(control_plane/input_sanity.py behind InputSanityMiddleware): the cases schemathesis
found, one by one, on the native API and the MLflow-compatible one."""

import json

import pytest

from registry.models import ModelVersion
from tests.conftest import register_version

pytestmark = pytest.mark.django_db

DEEP = "[" * 1000 + "]" * 1000


def error_of(response) -> dict:
    return response.json()["error"]


@pytest.mark.parametrize(
    "path, param",
    [
        ("/api/v1/events/", "actor"),
        ("/api/v1/models/", "search"),
        ("/api/v1/promotions/", "model"),
        ("/api/v1/batch-jobs/", "model"),
    ],
)
def test_a_nul_in_a_query_parameter_is_named(api, viewer, path, param):
    response = api(viewer).get(f"{path}?{param}=%00")
    assert response.status_code == 422, response.content
    assert error_of(response)["code"] == "validation_error"
    assert list(error_of(response)["details"]) == [param]


def test_a_nul_in_a_tag_key_is_named(api, contributor):
    response = api(contributor).post(
        "/api/v1/models/", {"name": "m1", "tags": {"team\u0000": "x"}}, format="json"
    )
    assert response.status_code == 422, response.content
    assert list(error_of(response)["details"]) == ["tags.team\u0000"]


def test_a_lone_surrogate_in_a_json_string_is_named(api, contributor):
    body = '{"name": "m1", "description": "half \\ud800 a pair"}'
    response = api(contributor).post("/api/v1/models/", body, content_type="application/json")
    assert response.status_code == 422, response.content
    assert list(error_of(response)["details"]) == ["description"]


def test_a_whole_surrogate_pair_and_an_escaped_backslash_pass(api, contributor):
    body = '{"name": "m1", "description": "smile \\ud83d\\ude00, path C:\\\\u0000"}'
    response = api(contributor).post("/api/v1/models/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["description"] == "smile \U0001f600, path C:\\u0000"


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/v1/models/"),
        ("patch", "/api/v1/models/churn-predictor/"),
        ("post", "/api/v1/models/churn-predictor/versions/"),
        ("put", "/api/v1/models/churn-predictor/deployment/"),
        ("put", "/api/v1/models/churn-predictor/monitor/"),
        ("post", "/api/v1/promotions/"),
        ("post", "/api/v1/channels/"),
        ("post", "/api/v1/predictions/feedback/"),
    ],
)
def test_json_nested_a_thousand_deep_is_refused_before_parsing(api, admin, registered_model, method, path):
    response = getattr(api(admin), method)(path, '{"tags": ' + DEEP + "}", content_type="application/json")
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == "malformed_request"
    assert "1001 levels" in error_of(response)["message"]


def test_1e999_in_version_metrics_is_named(api, contributor, registered_model):
    body = '{"source": "runs:/0123456789abcdef/model", "metrics": {"auc": 1e999}}'
    response = api(contributor).post(
        "/api/v1/models/churn-predictor/versions/", body, content_type="application/json"
    )
    assert response.status_code == 422, response.content
    assert list(error_of(response)["details"]) == ["metrics.auc"]
    assert not ModelVersion.objects.exists()


def test_infinity_in_deployment_analysis_is_named(api, admin, registered_model):
    body = '{"strategy": "canary", "analysis": {"max_error_rate": 1E+400}}'
    response = api(admin).put("/api/v1/models/churn-predictor/deployment/", body, content_type="application/json")
    assert response.status_code == 422, response.content
    assert list(error_of(response)["details"]) == ["analysis.max_error_rate"]


def test_nan_in_monitor_thresholds_is_named(api, admin, registered_model):
    body = '{"thresholds": {"psi_moderate": NaN}}'
    response = api(admin).put("/api/v1/models/churn-predictor/monitor/", body, content_type="application/json")
    assert response.status_code == 422, response.content
    assert list(error_of(response)["details"]) == ["thresholds.psi_moderate"]


# --- The MLflow-compatible API answers in MLflow's words.


def mlflow_error(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()


def test_mlflow_update_with_a_nul_is_refused(api, contributor, registered_model):
    register_version(contributor)
    response = api(contributor).patch(
        "/api/2.0/mlflow/model-versions/update",
        {"name": "churn-predictor", "version": "1", "description": "a\u0000b"},
        format="json",
    )
    body = mlflow_error(response)
    assert body["error_code"] == "INVALID_PARAMETER_VALUE" and "'description'" in body["message"]


@pytest.mark.parametrize("field", ["key", "value"])
def test_mlflow_set_tag_with_a_lone_surrogate_is_refused(api, contributor, registered_model, field):
    params = {"name": "churn-predictor", "key": "team", "value": "ml"}
    body = json.dumps(params).replace('"ml"' if field == "value" else '"team"', '"\\udc00"')
    response = api(contributor).post(
        "/api/2.0/mlflow/registered-models/set-tag", body, content_type="application/json"
    )
    error = mlflow_error(response)
    assert error["error_code"] == "INVALID_PARAMETER_VALUE" and f"'{field}'" in error["message"]


def test_mlflow_query_with_a_nul_is_refused(api, viewer):
    error = mlflow_error(api(viewer).get("/api/2.0/mlflow/registered-models/get?name=a%00"))
    assert "'name'" in error["message"]


# --- Pages get Django's 400, not a 500.


def test_a_page_with_a_nul_in_its_query_answers_400(client, viewer):
    client.force_login(viewer)
    assert client.get("/audit/?actor=%00").status_code == 400
