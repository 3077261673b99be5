"""The deployment page lets people act, with the API's permissions: start a shadow, canary
or blue-green for a Staging version, pause, resume, promote now, cut over, roll back, abort;
a model with nothing deployed gets an empty state that says how to start, not a 404."""

import pytest
from django.urls import reverse

from control_plane.models import Event
from registry import services
from registry.models import ModelVersion
from serving import services as deployments
from serving.models import Deployment

pytestmark = pytest.mark.django_db

MODEL = "churn-predictor"


def _page(client):
    return client.get(reverse("deployment-comparison", args=[MODEL])).content.decode()


def test_empty_state_instead_of_404(client, viewer, served):
    client.force_login(viewer)
    response = client.get(reverse("deployment-comparison", args=[MODEL]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="deployment-empty"' in body and "answered by the Production version" in body
    assert 'id="start-form"' not in body and "Your role cannot start a rollout" in body


def test_contributor_starts_a_shadow_but_cannot_start_a_canary(client, contributor, served):
    client.force_login(contributor)
    body = _page(client)
    assert 'id="start-form"' in body and 'value="shadow"' in body and 'value="canary"' not in body
    response = client.post(reverse("deployment-start", args=[MODEL]), {"strategy": "shadow", "challenger_version": "2"})
    assert response.status_code == 302
    live = Deployment.objects.get(state="active")
    assert live.strategy == "shadow" and live.challenger.version == 2
    refused = client.post(reverse("deployment-start", args=[MODEL]), {"strategy": "canary", "challenger_version": "2"})
    assert refused.status_code == 403 and "cannot approve or reject promotion requests" in refused.content.decode()
    assert Deployment.objects.get(state="active").strategy == "shadow"
    assert 'id="action-abort"' in _page(client)


def test_approver_runs_a_canary_from_the_page(client, approver, served):
    client.force_login(approver)
    response = client.post(
        reverse("deployment-start", args=[MODEL]),
        {"strategy": "canary", "challenger_version": "2", "steps": "10, 50, 100", "step_seconds": "60"},
        follow=True,
    )
    body = response.content.decode()
    canary = Deployment.objects.get(state="active")
    assert canary.steps == [10, 50, 100] and canary.step_seconds == 60 and canary.challenger_weight == 10
    assert "Canary of v2 started at 10 %; now at 10 % (step 1 of 3)." in body
    for action in ("pause", "rollback", "abort"):
        assert f'id="action-{action}"' in body
    assert 'id="action-promote"' not in body  # configured by hand: it only evaluates

    assert client.post(reverse("deployment-action", args=[MODEL, "pause"]), {"reason": "lunch"}).status_code == 302
    canary.refresh_from_db()
    assert canary.state == "paused"
    assert 'id="action-resume"' in _page(client)
    assert client.post(reverse("deployment-action", args=[MODEL, "resume"])).status_code == 302
    assert client.post(reverse("deployment-action", args=[MODEL, "rollback"]), {"reason": "p99"}).status_code == 302
    canary.refresh_from_db()
    assert canary.state == "rolled_back" and canary.challenger_weight == 0
    assert Event.objects.filter(type="deployment.rollback", payload__reason="p99").exists()


def test_blue_green_cutover_and_a_viewer_cannot_act(client, contributor, approver, approver2, viewer, served):
    deployments.deployment_configure(actor=approver, model_name=MODEL, strategy="blue_green", challenger_version=2)
    client.force_login(viewer)
    body = _page(client)
    assert 'id="action-cutover"' not in body
    refused = client.post(reverse("deployment-action", args=[MODEL, "cutover"]))
    assert refused.status_code == 403
    assert Deployment.objects.get(state="active").challenger_weight == 0

    # Before v2's promotion request is approved the page offers no cutover and a forged one is refused.
    client.force_login(approver)
    body = _page(client)
    assert 'id="action-cutover"' not in body and "appears once the challenger's promotion request is approved" in body
    refused = client.post(reverse("deployment-action", args=[MODEL, "cutover"]))
    assert refused.status_code == 409 and "approved" in refused.content.decode()
    assert Deployment.objects.get(state="active").challenger_weight == 0

    request = services.promotion_request(actor=contributor, model_name=MODEL, version=2)
    services.promotion_approve(actor=approver2, request_id=request.pk, override_reason="blue-green evaluates it")
    assert 'id="action-cutover"' in _page(client)
    assert client.post(reverse("deployment-action", args=[MODEL, "cutover"])).status_code == 302
    assert ModelVersion.objects.get(model__name=MODEL, version=2).stage == "production"


def test_bad_steps_are_a_clear_error(client, approver, served):
    client.force_login(approver)
    response = client.post(
        reverse("deployment-start", args=[MODEL]), {"strategy": "canary", "challenger_version": "2", "steps": "ten"}
    )
    assert response.status_code == 422 and "whole percentages" in response.content.decode()
    assert not Deployment.objects.filter(strategy="canary").exists()


def test_a_forged_promote_of_a_hand_made_canary_changes_nothing(client, approver, served):
    """The page offers no "Promote now" for a canary configured by hand; posting it anyway
    is refused by the service: only an approved promotion request reaches Production."""
    deployments.deployment_configure(actor=approver, model_name=MODEL, strategy="canary", challenger_version=2)
    client.force_login(approver)
    response = client.post(reverse("deployment-action", args=[MODEL, "promote"]), {"reason": "trust me"})
    assert response.status_code == 409 and "approved promotion request" in response.content.decode()
    v1, v2 = served
    v2.refresh_from_db()
    v1.refresh_from_db()
    assert v2.stage == "staging" and v1.stage == "production"
