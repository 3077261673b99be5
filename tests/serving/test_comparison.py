"""Champion versus challenger: the comparison API and page over real served traffic."""

import json
import re

import numpy as np
import pytest

from registry import services as registry_services
from serving import services as deployments
from serving import shadow
from serving.comparison import BINS
from serving.models import CanaryAnalysis, Deployment
from serving.rollouts import canary_evaluate
from tests.conftest import staged_version

from .conftest import SERVING_SCHEMA

pytestmark = pytest.mark.django_db
MODEL = "churn-predictor"
URL = f"/api/v1/models/{MODEL}/deployment/comparison/"
PAGE = f"/models/{MODEL}/deployment/"
# 45 -> 50 -> 100: the canary is still running after its first step passes (the last
# step is the registry's promotion, not a step to watch).
FAST = {"steps": [45, 50, 100], "analysis": {"min_requests": 150, "max_p99_latency_ratio": 1000}}


@pytest.fixture
def served_here(served, contributor):
    deployments.deployment_configure(actor=contributor, model_name=MODEL, strategy="single", **FAST)
    return served


@pytest.fixture
def inline_shadow(monkeypatch):
    """The shadow pool runs its job inline, so every shadow row exists when predict returns."""
    monkeypatch.setattr(shadow, "submit", lambda job, *args: job(*args) or True)


def traffic(client, count):
    rng = np.random.default_rng(count)
    for i in range(count):
        row = {
            "tenure_months": float(rng.uniform(0, 60)),
            "monthly_spend": 50.0,
            "support_tickets": int(rng.integers(0, 10)),
        }
        r = client.post(
            f"/api/v1/serve/{MODEL}/predict",
            json.dumps({"instances": [row], "routing_key": f"user-{i}"}),
            content_type="application/json",
        )
        assert r.status_code == 200, r.json()


def shadow_run(api, viewer, contributor, challenger_version, count=60):
    deployments.deployment_configure(
        actor=contributor, model_name=MODEL, strategy="shadow", challenger_version=challenger_version
    )
    client = api(viewer)
    traffic(client, count)
    r = client.get(URL)
    assert r.status_code == 200, r.json()
    return r.json()


def test_shadow_of_a_label_flipping_challenger_disagrees(api, served_here, inline_shadow, contributor, viewer):
    body = shadow_run(api, viewer, contributor, challenger_version=2)

    assert body["deployment"]["strategy"] == "shadow"
    champion, challenger = body["champion"], body["challenger"]
    assert (champion["variant"], champion["version"], champion["requests"]) == ("champion", 1, 60)
    assert (challenger["variant"], challenger["version"], challenger["requests"]) == ("shadow", 2, 60)
    assert champion["errors"] == challenger["errors"] == 0 and champion["error_rate"] == 0.0
    assert 0 < champion["latency_p50_ms"] <= champion["latency_p95_ms"] <= champion["latency_p99_ms"]

    paired = body["paired"]
    assert paired["available"] and paired["pairs"] == 60 and paired["kind"] == "classifier"
    assert paired["agreement_rate"] < 0.1  # v2 learned the flipped labels
    assert paired["mean_abs_score_diff"] > 0.3

    hist = body["histograms"]
    assert hist["kind"] == "probability" and len(hist["edges"]) == BINS + 1
    assert hist["edges"][0] == 0.0 and hist["edges"][-1] == 1.0
    assert sum(hist["champion"]) == champion["requests"] and sum(hist["challenger"]) == challenger["requests"]
    assert hist["champion"] != hist["challenger"]


def test_shadow_of_a_twin_agrees(api, served_here, inline_shadow, saved_models, contributor, viewer):
    twin = staged_version(contributor, source=saved_models[0], schema=SERVING_SCHEMA)  # v1's model again
    body = shadow_run(api, viewer, contributor, challenger_version=twin.version, count=40)

    assert body["challenger"]["version"] == twin.version and body["challenger"]["requests"] == 40
    assert body["paired"]["pairs"] == 40
    assert body["paired"]["agreement_rate"] == 1.0
    assert body["paired"]["mean_abs_score_diff"] == pytest.approx(0.0, abs=1e-9)
    assert body["histograms"]["champion"] == body["histograms"]["challenger"]


def test_since_bounds_the_window_and_must_be_a_time(api, served_here, inline_shadow, contributor, viewer):
    shadow_run(api, viewer, contributor, challenger_version=2, count=10)
    client = api(viewer)

    later = client.get(URL, {"since": "2999-01-01T00:00:00Z"}).json()
    assert later["champion"]["requests"] == later["challenger"]["requests"] == 0
    assert later["paired"]["pairs"] == 0 and later["paired"]["agreement_rate"] is None
    assert later["histograms"]["kind"] == "empty" and later["histograms"]["champion"] == []
    earlier = client.get(URL, {"since": "2000-01-01T00:00:00Z"}).json()
    assert earlier["champion"]["requests"] == 10

    bad = client.get(URL, {"since": "yesterday"})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["since"]
    naive = client.get(URL, {"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422


def test_canary_timeline_shows_weights_and_analyses(api, served_here, saved_models, contributor, approver, viewer):
    twin = staged_version(contributor, source=saved_models[0], schema=SERVING_SCHEMA)
    request = registry_services.promotion_request(actor=contributor, model_name=MODEL, version=twin.version)
    registry_services.promotion_approve(actor=approver, request_id=request.pk, override_reason="canary will tell")
    canary = Deployment.objects.get(state="active")
    assert canary.strategy == "canary" and canary.challenger_weight == 45
    client = api(viewer)
    traffic(client, 400)
    assert canary_evaluate(canary.pk, force=True) == "pass", CanaryAnalysis.objects.values("metrics").last()

    body = client.get(URL).json()
    assert body["deployment"]["id"] == canary.pk and body["deployment"]["challenger_weight"] == 50
    champion, challenger = body["champion"], body["challenger"]
    assert challenger["variant"] == "challenger" and challenger["version"] == twin.version
    assert champion["requests"] + challenger["requests"] == 400 and champion["requests"] and challenger["requests"]
    assert not body["paired"]["available"] and body["paired"]["agreement_rate"] is None  # no pairing in a canary
    assert sum(body["histograms"]["challenger"]) == challenger["requests"]

    timeline = body["timeline"]
    [analysis] = timeline["analyses"]
    assert (analysis["step"], analysis["weight"], analysis["decision"]) == (0, 45, "pass")
    assert analysis["metrics"]["challenger_requests"] == challenger["requests"]
    types = [e["type"] for e in timeline["events"]]
    assert "deployment.canary_started" in types and "deployment.analysis" in types and "deployment.step" in types
    assert all(t.startswith("deployment.") for t in types)
    weights = [w["weight"] for w in timeline["weights"]]
    assert weights[0] == 0 and 45 in weights and weights[-1] == 50
    assert weights.index(45) < len(weights) - 1 - weights[::-1].index(50)


def test_no_deployment_is_404_in_the_api_and_an_empty_state_on_the_page(api, registered_model, viewer, client):
    api_client = api(viewer)
    r = api_client.get(URL)
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_deployment"
    assert api_client.get("/api/v1/models/nope/deployment/comparison/").status_code == 404
    client.force_login(viewer)
    page = client.get(PAGE)
    assert page.status_code == 200 and 'id="deployment-empty"' in page.content.decode()
    assert client.get("/models/nope/deployment/").status_code == 404


def test_the_api_needs_authentication(client, served_here):
    assert client.get(URL).status_code == 401


def test_page_renders_charts_and_data_for_a_viewer(client, api, served_here, inline_shadow, contributor, viewer):
    shadow_run(api, viewer, contributor, challenger_version=2, count=20)
    assert client.get(PAGE).status_code == 302  # anonymous: to the login page
    client.force_login(viewer)

    response = client.get(PAGE)
    assert response.status_code == 200
    body = response.content.decode()
    assert '<script src="/static/vendor/plotly.min.js"></script>' in body
    assert '<script src="/static/js/comparison.js"></script>' in body
    assert "cdn" not in body.lower()
    match = re.search(r'<script id="comparison-data" type="application/json">(.*?)</script>', body, re.S)
    assert match, body
    data = json.loads(match.group(1))
    assert data["champion"]["requests"] == data["challenger"]["requests"] == 20
    assert sum(data["histograms"]["challenger"]) == 20
    assert 'id="comparison-stats"' in body and "shadow" in body

    detail = client.get(f"/models/{MODEL}/").content.decode()
    assert f'href="{PAGE}"' in detail
