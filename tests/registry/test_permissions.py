"""Roles: a viewer reads everything and writes nothing; each write endpoint answers
403 and leaves the database as it was."""

import pytest

from control_plane.models import Event, IdempotencyRecord
from registry import services
from registry.models import ModelVersion, PromotionDecision, PromotionRequest, RegisteredModel, StageTransition
from tests.conftest import SCHEMA, promote, staged_version


def snapshot() -> dict:
    return {
        "models": sorted(RegisteredModel.objects.values_list("name", "description", "required_approvals")),
        "versions": sorted(ModelVersion.objects.values_list("model__name", "version", "stage", "description")),
        "transitions": StageTransition.objects.count(),
        "requests": sorted(PromotionRequest.objects.values_list("id", "status")),
        "decisions": PromotionDecision.objects.count(),
        "events": Event.objects.count(),
        "idempotency": IdempotencyRecord.objects.count(),
    }


@pytest.fixture
def world(registered_model, contributor, approver):
    """v1 archived (was production), v2 production, v3 staging with a pending request, v4 staging."""
    promote(contributor, approver)
    promote(contributor, approver)
    staged_version(contributor)
    staged_version(contributor)
    request = services.promotion_request(actor=contributor, model_name="churn-predictor", version=3)
    return {"request": request.pk}


WRITES = [
    ("post", "/api/v1/models/", {"name": "viewer-model"}),
    ("patch", "/api/v1/models/churn-predictor/", {"description": "changed by a viewer"}),
    ("delete", "/api/v1/models/churn-predictor/", None),
    ("post", "/api/v1/models/churn-predictor/versions/", {"source": "runs:/x/model", "input_schema": SCHEMA}),
    ("patch", "/api/v1/models/churn-predictor/versions/4/", {"description": "changed by a viewer"}),
    ("post", "/api/v1/models/churn-predictor/versions/4/stage/", {"stage": "archived"}),
    ("post", "/api/v1/models/churn-predictor/versions/4/stage/", {"stage": "none"}),
    ("post", "/api/v1/promotions/", {"model": "churn-predictor", "version": 4}),
    ("post", "/api/v1/promotions/{request}/approve/", {"comment": "ok"}),
    ("post", "/api/v1/promotions/{request}/reject/", {"comment": "no"}),
    ("post", "/api/v1/promotions/{request}/cancel/", {}),
    ("post", "/api/v1/models/churn-predictor/rollback/", {"reason": "viewer wants v1"}),
    ("post", "/api/v1/models/churn-predictor/rollback/", {"reason": "viewer wants v1", "to_version": 1}),
]


@pytest.mark.parametrize("method,path,body", WRITES, ids=[f"{m} {p} {b}" for m, p, b in WRITES])
def test_viewer_gets_403_on_every_write_and_nothing_changes(api, world, viewer, method, path, body):
    client = api(viewer)
    before = snapshot()

    r = getattr(client, method)(path.format(**world), body, format="json", headers={"Idempotency-Key": "viewer-1"})

    assert r.status_code == 403, r.content
    error = r.json()["error"]
    assert error["code"] in {"permission_denied", "forbidden"} and error["message"]
    assert snapshot() == before


def test_viewer_can_read(api, world, viewer):
    client = api(viewer)
    for path in (
        "/api/v1/models/",
        "/api/v1/models/churn-predictor/",
        "/api/v1/models/churn-predictor/versions/",
        "/api/v1/models/churn-predictor/versions/2/",
        "/api/v1/models/churn-predictor/history/",
        "/api/v1/promotions/",
        "/api/v1/promotions/{request}/".format(**world),
        "/api/v1/events/",
    ):
        assert client.get(path).status_code == 200, path
    assert client.get("/api/v1/models/churn-predictor/").json()["production_version"] == 2


def test_approver_cannot_register_and_contributor_cannot_roll_back(api, world, contributor, approver):
    before = snapshot()
    r = api(approver).post("/api/v1/models/churn-predictor/versions/", {"source": "runs:/x/m"}, format="json")
    assert r.status_code == 403
    r = api(contributor).post("/api/v1/models/churn-predictor/rollback/", {"reason": "x"}, format="json")
    assert r.status_code == 403
    after = snapshot()
    assert after.pop("events") == before.pop("events") + 2  # the two tokens issued above, nothing else
    assert after == before


def test_no_credentials_get_401(client, world):
    before = snapshot()
    r = client.post("/api/v1/models/", {"name": "anon"}, content_type="application/json")
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
    assert r["WWW-Authenticate"].startswith("Bearer")
    r = client.get("/api/v1/models/", HTTP_AUTHORIZATION="Bearer cpt_000000000000_nope")
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
    assert snapshot() == before
