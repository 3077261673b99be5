"""Idempotency-Key on creating POSTs: a retry replays the first answer, a reused key
with another body is refused. (The concurrent retries are in
tests/registry/test_concurrency.py, against the live server.)"""

from control_plane.models import Event, IdempotencyRecord
from registry.models import ModelVersion, PromotionRequest, RegisteredModel
from tests.conftest import SCHEMA, staged_version

VERSIONS = "/api/v1/models/churn-predictor/versions/"
BODY = {"source": "runs:/abc/model", "input_schema": SCHEMA, "metrics": {"auc": 0.9}}


def test_same_key_and_body_twice_creates_one_version_and_replays_the_answer(api, registered_model, contributor):
    client = api(contributor)
    key = {"Idempotency-Key": "build-1234-register"}

    first = client.post(VERSIONS, BODY, format="json", headers=key)
    events_after_first = Event.objects.count()
    second = client.post(VERSIONS, BODY, format="json", headers=key)

    assert first.status_code == 201 and second.status_code == 201
    assert first.json() == second.json()
    assert second.json()["version"] == 1
    assert "Idempotent-Replayed" not in first and second["Idempotent-Replayed"] == "true"
    assert list(ModelVersion.objects.values_list("version", flat=True)) == [1]
    assert RegisteredModel.objects.get(name="churn-predictor").last_version == 1
    assert Event.objects.count() == events_after_first
    record = IdempotencyRecord.objects.get()
    assert (record.user, record.key, record.response_status) == (contributor, "build-1234-register", 201)
    assert record.scope == f"POST {VERSIONS}"

    # A new key is a new version; no key at all is never deduplicated.
    assert client.post(VERSIONS, BODY, format="json", headers={"Idempotency-Key": "build-1235"}).json()["version"] == 2
    assert client.post(VERSIONS, BODY, format="json").json()["version"] == 3
    assert client.post(VERSIONS, BODY, format="json").json()["version"] == 4
    assert ModelVersion.objects.count() == 4


def test_same_key_with_a_different_body_is_422(api, registered_model, contributor):
    client = api(contributor)
    key = {"Idempotency-Key": "build-77"}
    assert client.post(VERSIONS, BODY, format="json", headers=key).status_code == 201
    events_before = Event.objects.count()

    r = client.post(VERSIONS, {**BODY, "source": "runs:/other/model"}, format="json", headers=key)

    assert r.status_code == 422
    assert r.json()["error"]["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in r.json()["error"]["details"]
    assert list(ModelVersion.objects.values_list("version", "source")) == [(1, "runs:/abc/model")]
    assert Event.objects.count() == events_before
    assert IdempotencyRecord.objects.count() == 1


def test_keys_are_per_user_and_per_endpoint(api, registered_model, contributor, admin):
    key = {"Idempotency-Key": "shared-key"}
    assert api(contributor).post(VERSIONS, BODY, format="json", headers=key).json()["version"] == 1
    # Another user with the same key gets their own version, not the contributor's answer.
    assert api(admin).post(VERSIONS, BODY, format="json", headers=key).json()["version"] == 2
    # The same user, same key, another endpoint: a separate creation.
    r = api(contributor).post("/api/v1/models/", {"name": "other-model"}, format="json", headers=key)
    assert r.status_code == 201 and r.json()["name"] == "other-model"
    assert ModelVersion.objects.count() == 2 and RegisteredModel.objects.count() == 2
    assert IdempotencyRecord.objects.count() == 3


def test_failed_creation_is_not_recorded_so_a_fixed_retry_can_succeed(api, registered_model, contributor):
    client = api(contributor)
    key = {"Idempotency-Key": "retry-after-fix"}
    bad = client.post(VERSIONS, {"source": ""}, format="json", headers=key)
    assert bad.status_code == 422
    assert not IdempotencyRecord.objects.exists()
    good = client.post(VERSIONS, BODY, format="json", headers=key)
    assert good.status_code == 201 and good.json()["version"] == 1
    assert ModelVersion.objects.count() == 1


def test_idempotent_model_and_promotion_creation(api, contributor):
    client = api(contributor)
    key = {"Idempotency-Key": "create-model-1"}
    first = client.post("/api/v1/models/", {"name": "idem-model"}, format="json", headers=key)
    second = client.post("/api/v1/models/", {"name": "idem-model"}, format="json", headers=key)
    assert first.status_code == second.status_code == 201  # not a 409 on the retry
    assert first.json() == second.json()
    assert RegisteredModel.objects.filter(name="idem-model").count() == 1

    staged_version(contributor, "idem-model")
    key = {"Idempotency-Key": "request-promo-1"}
    body = {"model": "idem-model", "version": 1, "reason": "ready"}
    first = client.post("/api/v1/promotions/", body, format="json", headers=key)
    second = client.post("/api/v1/promotions/", body, format="json", headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert PromotionRequest.objects.count() == 1
