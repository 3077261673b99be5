"""Issue 11, item 17: permission before state. A caller whose role does not allow a
write hears 403 whatever the state of the thing named (missing model, no deployment,
unknown id), never 404 or 409 that would tell it something about that state."""

import pytest

from registry import services

MODEL = "churn-predictor"
GHOST = "no-such-model"

# (method, path, body). {m} is replaced by an existing model, then by a missing one.
WRITES = [
    *[("post", f"/api/v1/models/{{m}}/deployment/{action}/", {}) for action in
      ("pause", "resume", "promote", "abort", "cutover", "rollback")],
    ("put", "/api/v1/models/{m}/deployment/", {"strategy": "canary", "challenger_version": 1}),
    ("put", "/api/v1/models/{m}/deployment/", {"strategy": "shadow", "challenger_version": 1}),
    ("post", "/api/v1/models/{m}/rollback-drill/", None),
    ("patch", "/api/v1/models/{m}/", {"description": "x"}),
    ("delete", "/api/v1/models/{m}/", None),
    ("post", "/api/v1/models/{m}/versions/", {"source": "runs:/0123456789abcdef/model"}),
    ("patch", "/api/v1/models/{m}/versions/7/", {"description": "x"}),
    ("post", "/api/v1/models/{m}/versions/7/stage/", {"stage": "staging"}),
    ("post", "/api/v1/models/{m}/rollback/", {"reason": "x"}),
    ("put", "/api/v1/models/{m}/monitor/", {"enabled": False}),
    ("post", "/api/v1/models/{m}/drift/run/", {}),
    ("post", "/api/v1/models/{m}/versions/7/reference/", {"path": "/x.csv"}),
    ("post", "/api/v1/promotions/", {"model": "{m}", "version": 7}),
    ("post", "/api/v1/promotions/999999/approve/", {}),
    ("post", "/api/v1/promotions/999999/reject/", {"comment": "x"}),
    ("post", "/api/v1/promotions/999999/cancel/", {}),
    ("post", "/api/v1/batch-jobs/", {"model": "{m}", "input": "x.csv"}),
    ("post", "/api/v1/batch-jobs/999999/cancel/", None),
    ("post", "/api/v1/import/mlflow/", {"registry_uri": "http://127.0.0.1:1"}),
    ("post", "/api/v1/channels/", {"kind": "webhook", "name": "x", "config": {}, "events": []}),
    ("patch", "/api/v1/channels/999999/", {"name": "x"}),
    ("delete", "/api/v1/channels/999999/", None),
    ("post", "/api/v1/channels/999999/test/", None),
]


def _fill(value, name):
    if isinstance(value, str):
        return value.replace("{m}", name)
    if isinstance(value, dict):
        return {k: _fill(v, name) for k, v in value.items()}
    return value


@pytest.fixture
def existing(registered_model):
    return registered_model


@pytest.mark.parametrize("target", [MODEL, GHOST])
@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_a_viewer_hears_403_before_anything_about_state(api, viewer, existing, target, method, path, body):
    client = api(viewer)
    url = _fill(path, target)

    r = getattr(client, method)(url) if body is None else getattr(client, method)(url, _fill(body, target), format="json")

    assert r.status_code == 403, (r.status_code, r.content[:300])


def test_a_contributor_pausing_a_canary_hears_403_even_without_a_deployment(api, contributor, existing):
    """Pause applies only to canaries, which only an approver may run."""
    r = api(contributor).post(f"/api/v1/models/{MODEL}/deployment/pause/", {}, format="json")

    assert r.status_code == 403, r.json()


def test_the_state_answers_come_after_permission(api, approver, existing):
    """For whom the permission holds, the state answer is still there."""
    r = api(approver).post(f"/api/v1/models/{MODEL}/deployment/pause/", {}, format="json")

    assert r.status_code == 409 and r.json()["error"]["code"] == "no_deployment"
    assert services  # the registry is what the fixture built on
