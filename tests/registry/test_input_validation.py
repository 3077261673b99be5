"""Bad input gets the documented 4xx in the one error shape, and changes nothing."""

import pytest

from control_plane.models import Event, IdempotencyRecord
from registry.models import ModelVersion, PromotionRequest, RegisteredModel, StageTransition
from tests.conftest import SCHEMA, register_version, staged_version


def counts() -> dict:
    return {
        "models": RegisteredModel.objects.count(),
        "versions": ModelVersion.objects.count(),
        "stages": sorted(ModelVersion.objects.values_list("version", "stage")),
        "transitions": StageTransition.objects.count(),
        "requests": PromotionRequest.objects.count(),
        "events": Event.objects.count(),
        "idempotency": IdempotencyRecord.objects.count(),
    }


def assert_error(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.content
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture
def client(api, registered_model, contributor):
    register_version(contributor)  # v1 in stage none
    staged_version(contributor)  # v2 in staging
    return api(contributor)


def test_unknown_stage_is_422(client):
    before = counts()
    r = client.post("/api/v1/models/churn-predictor/versions/1/stage/", {"stage": "Prod"}, format="json")
    error = assert_error(r, 422, "unknown_stage")
    assert "stage" in error["details"]
    r = client.get("/api/v1/models/churn-predictor/versions/", {"stage": "limbo"})
    assert_error(r, 422, "unknown_stage")
    assert counts() == before


def test_production_through_the_stage_endpoint_is_409(client):
    before = counts()
    r = client.post("/api/v1/models/churn-predictor/versions/2/stage/", {"stage": "production"}, format="json")
    assert_error(r, 409, "promotion_required")
    r = client.post("/api/v1/models/churn-predictor/versions/1/stage/", {"stage": "production"}, format="json")
    assert_error(r, 409, "transition_not_allowed")  # none -> production does not exist at all
    r = client.post("/api/v1/models/churn-predictor/versions/2/stage/", {"stage": "staging"}, format="json")
    assert_error(r, 409, "already_in_stage")
    assert counts() == before
    assert ModelVersion.objects.get(version=2).stage == "staging"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/models/",
        "/api/v1/models/churn-predictor/versions/",
        "/api/v1/models/churn-predictor/versions/1/stage/",
        "/api/v1/promotions/",
    ],
)
@pytest.mark.parametrize("raw", ['{"name": ', "not json at all", '{"name": "x",}'])
def test_malformed_json_is_400(client, path, raw):
    before = counts()
    r = client.post(path, raw, content_type="application/json", headers={"Idempotency-Key": "malformed"})
    error = assert_error(r, 400, "malformed_request")
    assert error["message"].startswith("Malformed request body")
    assert counts() == before


@pytest.mark.parametrize(
    "path,body,fields",
    [
        ("/api/v1/models/", {}, {"name"}),
        ("/api/v1/models/", {"description": "no name"}, {"name"}),
        ("/api/v1/models/churn-predictor/versions/", {"run_id": "abc"}, {"source"}),
        ("/api/v1/models/churn-predictor/versions/1/stage/", {"reason": "no stage"}, {"stage"}),
        ("/api/v1/promotions/", {}, {"model", "version"}),
        ("/api/v1/promotions/", {"model": "churn-predictor"}, {"version"}),
    ],
)
def test_missing_required_fields_are_422_naming_them(client, path, body, fields):
    before = counts()
    error = assert_error(client.post(path, body, format="json"), 422, "validation_error")
    assert fields <= set(error["details"]), error
    assert counts() == before


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/api/v1/models/", {"name": "m", "required_approvals": 0}, "required_approvals"),
        ("/api/v1/models/", {"name": "m", "required_approvals": 11}, "required_approvals"),
        ("/api/v1/models/", {"name": "m", "tags": {"team": ["a", "b"]}}, "tags"),
        ("/api/v1/models/", ["name", "m"], "non_field_errors"),
        ("/api/v1/models/churn-predictor/versions/", {"source": "   "}, "source"),
        ("/api/v1/models/churn-predictor/versions/", {"source": "s3://b/m", "metrics": {"auc": "high"}}, "metrics"),
        (
            "/api/v1/models/churn-predictor/versions/",
            {"source": "s3://b/m", "input_schema": [{"name": "age", "type": "int32"}]},
            "input_schema",
        ),
        (
            "/api/v1/models/churn-predictor/versions/",
            {"source": "s3://b/m", "input_schema": [{"name": "a", "type": "double"}, {"name": "a", "type": "long"}]},
            "input_schema",
        ),
        ("/api/v1/promotions/", {"model": "churn-predictor", "version": 0}, "version"),
        ("/api/v1/promotions/", {"model": "churn-predictor", "version": "two"}, "version"),
    ],
)
def test_invalid_values_are_422_naming_the_field(client, path, body, field):
    before = counts()
    error = assert_error(client.post(path, body, format="json"), 422)
    assert field in error["details"], error
    assert counts() == before


def test_ten_megabyte_body_is_413(client):
    before = counts()
    big = '{"source": "' + "x" * (10 * 1024 * 1024) + '"}'
    r = client.post("/api/v1/models/churn-predictor/versions/", big, content_type="application/json")
    error = assert_error(r, 413, "payload_too_large")
    assert error["details"]["limit_bytes"] < len(big)
    big = '{"name": "big", "description": "' + "y" * (10 * 1024 * 1024) + '"}'
    r = client.post("/api/v1/models/", big, content_type="application/json")
    assert_error(r, 413, "payload_too_large")
    assert counts() == before
    assert not RegisteredModel.objects.filter(name="big").exists()


@pytest.mark.parametrize(
    "name",
    ["churn/predictor", "churn:predictor", "m" * 257, "", "   ", ".", "..", "..hidden", "nul\x00byte"],
)
def test_invalid_model_names_are_422(client, name):
    before = counts()
    error = assert_error(client.post("/api/v1/models/", {"name": name}, format="json"), 422)
    assert "name" in error["details"], error
    assert counts() == before


def test_longest_valid_name_is_accepted(client):
    name = "m" * 256
    r = client.post("/api/v1/models/", {"name": name}, format="json")
    assert r.status_code == 201, r.json()
    assert RegisteredModel.objects.filter(name=name).exists()
    assert client.get(f"/api/v1/models/{name}/").json()["name"] == name


def test_duplicate_model_name_is_409(client):
    before = counts()
    r = client.post("/api/v1/models/", {"name": "churn-predictor", "description": "again"}, format="json")
    assert_error(r, 409, "model_exists")
    assert counts() == before
    assert RegisteredModel.objects.get(name="churn-predictor").description == "Predicts churn."


@pytest.mark.parametrize(
    "method,path,body,unknown",
    [
        ("post", "/api/v1/models/", {"name": "new-model", "colour": "red"}, "colour"),
        ("patch", "/api/v1/models/churn-predictor/", {"description": "d", "stage": "production"}, "stage"),
        ("post", "/api/v1/models/churn-predictor/versions/", {"source": "s3://b/m", "stage": "production"}, "stage"),
        ("patch", "/api/v1/models/churn-predictor/versions/1/", {"stage": "production"}, "stage"),
        ("post", "/api/v1/models/churn-predictor/versions/1/stage/", {"stage": "staging", "force": True}, "force"),
        ("post", "/api/v1/promotions/", {"model": "churn-predictor", "version": 2, "approved": True}, "approved"),
        ("post", "/api/v1/tokens/", {"name": "t", "admin": True}, "admin"),
    ],
)
def test_unknown_fields_are_422(client, method, path, body, unknown):
    before = counts()
    error = assert_error(getattr(client, method)(path, body, format="json"), 422, "validation_error")
    assert error["details"][unknown] == ["Unknown field."]
    assert counts() == before
    assert not RegisteredModel.objects.filter(name="new-model").exists()
    assert RegisteredModel.objects.get(name="churn-predictor").description == "Predicts churn."


def test_unknown_model_and_version_are_404(client):
    before = counts()
    assert_error(client.get("/api/v1/models/nope/"), 404, "model_not_found")
    r = client.post("/api/v1/models/nope/versions/", {"source": "s3://b/m"}, format="json")
    assert_error(r, 404, "model_not_found")
    assert_error(client.get("/api/v1/models/churn-predictor/versions/99/"), 404, "version_not_found")
    r = client.post("/api/v1/promotions/", {"model": "churn-predictor", "version": 99}, format="json")
    assert_error(r, 404, "version_not_found")
    assert_error(client.get("/api/v1/promotions/999999/"), 404, "promotion_not_found")
    assert counts() == before


def test_promotion_of_a_version_not_in_staging_is_409(client):
    before = counts()
    r = client.post("/api/v1/promotions/", {"model": "churn-predictor", "version": 1}, format="json")
    assert_error(r, 409, "version_not_in_staging")
    assert counts() == before
    r = client.post("/api/v1/promotions/", {"model": "churn-predictor", "version": 2}, format="json")
    assert r.status_code == 201
    after_first = counts()
    r = client.post("/api/v1/promotions/", {"model": "churn-predictor", "version": 2}, format="json")
    assert_error(r, 409, "promotion_already_pending")
    assert counts() == after_first


def test_a_valid_registration_still_works_after_all_that(client):
    """Guards the negative tests above: the same client and paths do accept good input."""
    body = {"source": "s3://b/m", "input_schema": SCHEMA}
    r = client.post("/api/v1/models/churn-predictor/versions/", body, format="json")
    assert r.status_code == 201 and r.json()["version"] == 3
