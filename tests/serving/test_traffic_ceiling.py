"""Issue 11, item 3: beyond CHALLENGER_TRAFFIC_CEILING percent, traffic goes to a
challenger only when its promotion request is approved; cutover and the last canary
step complete through the registry, so the registry and the router never disagree
about who serves all traffic.

Every path one approver (or one admin) can take alone is tried here: blue/green
cutover, canary steps [100], a canary ramping past the ceiling, shadow then canary,
a PUT naming weights, and "promote"."""


import pytest

from registry import services
from registry.models import ModelVersion
from serving import services as deployments
from serving.analysis import PASS
from serving.models import Deployment
from serving.rollouts import canary_evaluate
from serving.router import _route_from_db
from tests.conftest import staged_version

from .conftest import SERVING_SCHEMA, send_traffic

pytestmark = pytest.mark.django_db
MODEL = "churn-predictor"
URL = f"/api/v1/models/{MODEL}/deployment/"
FAST = {"min_requests": 150, "max_p99_latency_ratio": 1000}


def stage(version: int) -> str:
    return ModelVersion.objects.get(model__name=MODEL, version=version).stage


def assert_registry_and_router_agree():
    """Whoever the router sends more than the ceiling to holds an approved request, and
    whoever it sends all traffic to is the Production version."""
    route = _route_from_db(MODEL)
    production = ModelVersion.objects.get(model__name=MODEL, stage="production")
    if route.challenger is None or route.challenger_weight == 0:
        assert route.champion == production
    assert route.challenger_weight < 100
    if route.challenger_weight > 50:
        live = Deployment.objects.get(model__name=MODEL, state__in=Deployment.LIVE_STATES)
        assert live.promotion_request is not None and live.promotion_request.status == "approved"


@pytest.mark.parametrize("who", ["approver", "admin"])
def test_blue_green_cutover_of_an_unapproved_challenger_is_refused(api, served, request, who):
    client = api(request.getfixturevalue(who))
    assert client.put(URL, {"strategy": "blue_green", "challenger_version": 2}, format="json").status_code == 200

    r = client.post(URL + "cutover/", {}, format="json")

    assert r.status_code == 409 and r.json()["error"]["code"] == "approval_required", r.json()
    assert Deployment.objects.get(state="active").challenger_weight == 0
    assert stage(2) == "staging"
    assert_registry_and_router_agree()


@pytest.mark.parametrize("steps", [[100], [60, 100], [51, 100]])
def test_a_hand_configured_canary_cannot_start_above_the_ceiling(api, served, approver, steps):
    r = api(approver).put(URL, {"strategy": "canary", "challenger_version": 2, "steps": steps}, format="json")

    assert r.status_code == 409 and r.json()["error"]["code"] == "approval_required", r.json()
    assert "steps" in r.json()["error"]["details"]
    assert not Deployment.objects.exists()


def test_shadow_then_canary_at_100_is_refused_too(api, served, contributor, approver):
    assert api(contributor).put(URL, {"strategy": "shadow", "challenger_version": 2}, format="json").status_code == 200

    r = api(approver).put(URL, {"strategy": "canary", "challenger_version": 2, "steps": [100]}, format="json")

    assert r.status_code == 409
    assert Deployment.objects.get(state="active").strategy == "shadow"
    assert_registry_and_router_agree()


def test_a_put_naming_weights_changes_nothing(api, served, approver):
    r = api(approver).put(
        URL, {"strategy": "blue_green", "challenger_version": 2, "challenger_weight": 100}, format="json"
    )

    assert r.status_code in (400, 422) and "challenger_weight" in r.json()["error"]["details"]
    assert not Deployment.objects.exists()


def test_the_ceiling_is_a_setting(api, served, approver, settings):
    settings.CHALLENGER_TRAFFIC_CEILING = 10

    r = api(approver).put(URL, {"strategy": "canary", "challenger_version": 2, "steps": [20, 100]}, format="json")

    assert r.status_code == 409


def test_a_hand_canary_ends_its_evaluation_at_the_ceiling(api, served, saved_models, contributor, approver, viewer):
    twin = staged_version(contributor, source=saved_models[0], schema=SERVING_SCHEMA)  # scores like v1
    r = api(approver).put(
        URL, {"strategy": "canary", "challenger_version": twin.version, "steps": [50, 100], "analysis": FAST}, format="json"
    )
    assert r.status_code == 200, r.json()
    canary = Deployment.objects.get(state="active")
    send_traffic(api(viewer))

    assert canary_evaluate(canary.pk, force=True) == PASS

    canary.refresh_from_db()
    assert canary.state == "completed" and canary.challenger_weight == 0  # never 100
    assert stage(twin.version) == "staging" and stage(1) == "production"
    assert_registry_and_router_agree()


def test_promote_on_a_hand_canary_is_refused(api, served, approver):
    a = api(approver)
    a.put(URL, {"strategy": "canary", "challenger_version": 2, "steps": [5, 50, 100]}, format="json")

    r = a.post(URL + "promote/", {}, format="json")

    assert r.status_code == 409 and stage(2) == "staging"
    assert_registry_and_router_agree()


def test_an_approved_canary_becomes_production_when_it_would_reach_100(
    api, served, saved_models, contributor, approver, approver2, viewer
):
    deployments.deployment_configure(
        actor=contributor, model_name=MODEL, strategy="single", steps=[50, 100], analysis=FAST
    )
    twin = staged_version(contributor, source=saved_models[0], schema=SERVING_SCHEMA)
    request = services.promotion_request(actor=contributor, model_name=MODEL, version=twin.version)
    services.promotion_approve(actor=approver, request_id=request.pk, override_reason="canary will tell")
    canary = Deployment.objects.get(state="active")
    assert canary.challenger_weight == 50
    assert_registry_and_router_agree()
    send_traffic(api(viewer))

    assert canary_evaluate(canary.pk, force=True) == PASS

    assert stage(twin.version) == "production" and stage(1) == "archived"
    live = Deployment.objects.get(state="active")
    assert live.strategy == "single" and live.champion == twin
    assert_registry_and_router_agree()


def test_an_approved_blue_green_cuts_over_through_the_registry(api, served, contributor, approver, approver2):
    a = api(approver)
    assert a.put(URL, {"strategy": "blue_green", "challenger_version": 2}, format="json").status_code == 200
    request = services.promotion_request(actor=contributor, model_name=MODEL, version=2)
    services.promotion_approve(actor=approver2, request_id=request.pk, override_reason="blue/green")
    blue_green = Deployment.objects.get(state="active")
    assert blue_green.strategy == "blue_green" and blue_green.challenger_weight == 0
    assert stage(2) == "staging"  # the approval waits for the cutover

    r = a.post(URL + "cutover/", {}, format="json")

    assert r.status_code == 200, r.json()
    assert stage(2) == "production" and stage(1) == "archived"
    live = Deployment.objects.get(state="active")
    assert live.strategy == "single" and live.champion.version == 2
    transition = ModelVersion.objects.get(model__name=MODEL, version=2).transitions.get(to_stage="production")
    assert transition.promotion_request_id == request.pk
    assert_registry_and_router_agree()


def test_a_registry_rollback_moves_a_single_deployment_too(api, served, contributor, approver, approver2):
    deployments.deployment_configure(actor=contributor, model_name=MODEL, strategy="single", steps=[100])
    request = services.promotion_request(actor=contributor, model_name=MODEL, version=2)
    services.promotion_approve(actor=approver, request_id=request.pk, override_reason="x")
    assert stage(2) == "production"
    assert_registry_and_router_agree()

    services.model_rollback(actor=approver, model_name=MODEL, reason="v2 misbehaves")

    assert stage(1) == "production"
    assert_registry_and_router_agree()
