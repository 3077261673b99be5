"""Issue 11, item 5: a token limited to some models acts on those models only, on every
endpoint (not only serving), and mints only tokens at most as limited."""

from datetime import timedelta

import pytest
from django.utils import timezone

from control_plane.models import ApiToken
from registry import services
from registry.models import PromotionRequest
from serving.models import BatchJob
from tests.conftest import register_version, staged_version

ALLOWED, OTHER = "allowed-model", "other-model"
OTHER_URL = f"/api/v1/models/{OTHER}"
MLFLOW = "/api/2.0/mlflow"


@pytest.fixture
def world(admin, contributor):
    """Two models with a Staging version each and a pending request on OTHER; the
    admin's token is limited to ALLOWED, so only the limit can refuse."""
    for name in (ALLOWED, OTHER):
        services.model_create(actor=contributor, name=name)
        staged_version(contributor, name)
        register_version(contributor, name)
    request = services.promotion_request(actor=contributor, model_name=OTHER, version=1)
    job = BatchJob.objects.create(
        model=request.model, version=request.version, input_path="/x.csv", input_format="csv",
        output_path="/y.csv", chunk_rows=10,
    )
    return {"request": request.pk, "job": job.pk}


# (method, path, body): every endpoint that names OTHER, through its URL, its body, or
# an object of OTHER's (a promotion request, a batch job).
CALLS = [
    ("get", f"{OTHER_URL}/", None),
    ("patch", f"{OTHER_URL}/", {"description": "mine now"}),
    ("delete", f"{OTHER_URL}/", None),
    ("get", f"{OTHER_URL}/versions/", None),
    ("post", f"{OTHER_URL}/versions/", {"source": "runs:/0123456789abcdef/model"}),
    ("get", f"{OTHER_URL}/versions/1/", None),
    ("patch", f"{OTHER_URL}/versions/1/", {"description": "x"}),
    ("post", f"{OTHER_URL}/versions/2/stage/", {"stage": "staging"}),
    ("post", f"{OTHER_URL}/rollback/", {"reason": "x"}),
    ("get", f"{OTHER_URL}/history/", None),
    ("post", "/api/v1/promotions/", {"model": OTHER, "version": 1}),
    ("get", "/api/v1/promotions/{request}/", None),
    ("post", "/api/v1/promotions/{request}/approve/", {"override_reason": "x"}),
    ("post", "/api/v1/promotions/{request}/reject/", {"comment": "x"}),
    ("post", "/api/v1/promotions/{request}/cancel/", {}),
    ("get", f"{OTHER_URL}/deployment/", None),
    ("put", f"{OTHER_URL}/deployment/", {"strategy": "single"}),
    ("post", f"{OTHER_URL}/deployment/abort/", {}),
    ("get", f"{OTHER_URL}/deployment/comparison/", None),
    ("post", f"{OTHER_URL}/rollback-drill/", None),
    ("get", f"{OTHER_URL}/monitor/", None),
    ("put", f"{OTHER_URL}/monitor/", {"enabled": False}),
    ("post", f"{OTHER_URL}/drift/run/", {}),
    ("get", f"{OTHER_URL}/drift/reports/", None),
    ("post", f"{OTHER_URL}/versions/1/reference/", {"path": "/x.csv"}),
    ("post", "/api/v1/batch-jobs/", {"model": OTHER, "input": "x.csv"}),
    ("get", "/api/v1/batch-jobs/{job}/", None),
    ("post", "/api/v1/batch-jobs/{job}/cancel/", None),
    ("post", "/api/v1/models/", {"name": "brand-new"}),
    ("get", f"{MLFLOW}/registered-models/get?name={OTHER}", None),
    ("post", f"{MLFLOW}/registered-models/rename", {"name": OTHER, "new_name": "taken-over"}),
    ("patch", f"{MLFLOW}/registered-models/update", {"name": OTHER, "description": "x"}),
    ("delete", f"{MLFLOW}/registered-models/delete", {"name": OTHER}),
    ("post", f"{MLFLOW}/registered-models/set-tag", {"name": OTHER, "key": "k", "value": "v"}),
    ("post", f"{MLFLOW}/registered-models/alias", {"name": OTHER, "alias": "best", "version": "1"}),
    ("get", f"{MLFLOW}/registered-models/alias?name={OTHER}&alias=best", None),
    ("post", f"{MLFLOW}/registered-models/get-latest-versions", {"name": OTHER}),
    ("post", f"{MLFLOW}/model-versions/create", {"name": OTHER, "source": "runs:/0123456789abcdef/model"}),
    ("get", f"{MLFLOW}/model-versions/get?name={OTHER}&version=1", None),
    ("post", f"{MLFLOW}/model-versions/transition-stage", {"name": OTHER, "version": "1", "stage": "Archived"}),
    ("post", f"{MLFLOW}/model-versions/set-tag", {"name": OTHER, "version": "1", "key": "k", "value": "v"}),
    ("delete", f"{MLFLOW}/model-versions/delete", {"name": OTHER, "version": "2"}),
    ("get", f"{MLFLOW}/model-versions/get-download-uri?name={OTHER}&version=1", None),
]


def call(client, method, path, body, ids):
    path = path.format(**ids)
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, format="json")


@pytest.mark.parametrize(("method", "path", "body"), CALLS, ids=[f"{m} {p}" for m, p, _ in CALLS])
def test_a_limited_token_is_refused_on_every_endpoint_naming_another_model(api, admin, world, method, path, body):
    limited = api(admin, models=[ALLOWED])

    r = call(limited, method, path, body, world)

    assert r.status_code == 403, (r.status_code, r.content[:300])
    body = r.json()
    code = body["error"]["code"] if "error" in body and isinstance(body["error"], dict) else body.get("error_code")
    assert code in ("model_not_allowed", "PERMISSION_DENIED"), body
    assert PromotionRequest.objects.get(pk=world["request"]).status == "pending"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", f"/api/v1/models/{ALLOWED}/", None),
        ("patch", f"/api/v1/models/{ALLOWED}/", {"description": "mine"}),
        ("post", f"/api/v1/models/{ALLOWED}/versions/2/stage/", {"stage": "staging"}),
        ("get", f"{MLFLOW}/registered-models/get?name={ALLOWED}", None),
        ("post", f"{MLFLOW}/registered-models/set-tag", {"name": ALLOWED, "key": "k", "value": "v"}),
    ],
)
def test_the_same_token_works_on_its_own_model(api, admin, world, method, path, body):
    r = call(api(admin, models=[ALLOWED]), method, path, body, world)

    assert r.status_code == 200, r.content[:300]


def test_lists_show_only_the_tokens_models(api, admin, world):
    limited = api(admin, models=[ALLOWED])

    models = [m["name"] for m in limited.get("/api/v1/models/").json()["results"]]
    promotions = limited.get("/api/v1/promotions/").json()["results"]
    jobs = limited.get("/api/v1/batch-jobs/").json()["results"]
    searched = limited.get(f"{MLFLOW}/registered-models/search").json()["registered_models"]
    versions = limited.get(f"{MLFLOW}/model-versions/search").json()["model_versions"]

    assert models == [ALLOWED]
    assert promotions == [] and jobs == []
    assert [m["name"] for m in searched] == [ALLOWED]
    assert {v["name"] for v in versions} == {ALLOWED}


def test_a_limited_token_mints_only_tokens_at_most_as_limited(api, admin, world):
    limited = api(admin, models=[ALLOWED], expires_days=5)

    unlimited = limited.post("/api/v1/tokens/", {"name": "wider", "expires_days": 2}, format="json")
    other = limited.post("/api/v1/tokens/", {"name": "other", "models": [OTHER], "expires_days": 2}, format="json")
    forever = limited.post("/api/v1/tokens/", {"name": "forever", "models": [ALLOWED]}, format="json")
    later = limited.post("/api/v1/tokens/", {"name": "later", "models": [ALLOWED], "expires_days": 30}, format="json")
    ok = limited.post("/api/v1/tokens/", {"name": "ok", "models": [ALLOWED], "expires_days": 2}, format="json")

    assert unlimited.status_code == other.status_code == 403
    assert "models" in unlimited.json()["error"]["details"] and "models" in other.json()["error"]["details"]
    assert forever.status_code == later.status_code == 403
    assert "expires_days" in later.json()["error"]["details"]
    assert ok.status_code == 201, ok.json()
    assert set(ApiToken.objects.filter(user=admin).values_list("name", flat=True)) == {"test", "ok"}


def test_a_read_only_limited_token_cannot_mint_at_all(api, admin, world):
    r = api(admin, models=[ALLOWED], read_only=True).post("/api/v1/tokens/", {"name": "x", "models": [ALLOWED]}, format="json")

    assert r.status_code == 403
    assert ApiToken.objects.filter(user=admin).count() == 1


def test_a_limited_token_cannot_revoke_or_see_the_users_wider_tokens(api, admin, world):
    wide = api(admin)
    wide_token = ApiToken.objects.get(user=admin)
    limited = api(admin, models=[ALLOWED])

    listed = limited.get("/api/v1/tokens/").json()["results"]
    r = limited.delete(f"/api/v1/tokens/{wide_token.pk}/")

    assert wide_token.pk not in [t["id"] for t in listed]
    assert r.status_code in (403, 404)
    wide_token.refresh_from_db()
    assert wide_token.revoked_at is None
    assert wide.get("/api/v1/models/").status_code == 200


def test_expiry_is_compared_with_the_parent(api, admin, world):
    limited = api(admin, models=[ALLOWED], expires_days=1)
    parent = ApiToken.objects.get(user=admin)
    assert parent.expires_at < timezone.now() + timedelta(days=2)

    r = limited.post("/api/v1/tokens/", {"name": "x", "models": [ALLOWED], "expires_days": 2}, format="json")

    assert r.status_code == 403
