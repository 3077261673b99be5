"""An approval says what it did: for a model served here it starts a canary (the message,
the request page, the inbox and the model page say so, with a link to the rollout, and
later its outcome); replacing a rollout that is running needs an explicit confirmation."""

import pytest
from django.urls import reverse

from registry import services
from registry.models import ModelVersion, PromotionDecision
from serving import services as deployments
from serving.models import Deployment
from tests.conftest import staged_version

from .conftest import SERVING_SCHEMA

pytestmark = pytest.mark.django_db

MODEL = "churn-predictor"
OVERRIDE = "Canary will tell."


@pytest.fixture
def hand_canary(served, saved_models, contributor, approver):
    """v2 in a canary configured by hand at 50 %; v3 staged with a pending request."""
    deployments.deployment_configure(actor=contributor, model_name=MODEL, strategy="single")
    deployments.deployment_configure(
        actor=approver, model_name=MODEL, strategy="canary", challenger_version=2, steps=[50, 100]
    )
    v3 = staged_version(contributor, source=saved_models[0], schema=SERVING_SCHEMA)
    return services.promotion_request(actor=contributor, model_name=MODEL, version=v3.version, reason="better")


def test_replacing_a_running_rollout_needs_confirmation(client, api, approver, hand_canary):
    refused = api(approver).post(
        f"/api/v1/promotions/{hand_canary.pk}/approve/", {"override_reason": OVERRIDE}, format="json"
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "rollout_running"
    assert "Canary of v2" in refused.json()["error"]["message"]
    assert not PromotionDecision.objects.filter(request=hand_canary).exists()
    live = Deployment.objects.get(state="active")
    assert live.challenger.version == 2 and live.challenger_weight == 50

    client.force_login(approver)
    page = client.get(reverse("promotion-detail", args=[hand_canary.pk])).content.decode()
    assert 'id="running-rollout"' in page and 'name="replace_rollout"' in page
    response = client.post(reverse("promotion-approve", args=[hand_canary.pk]), {"override_reason": OVERRIDE})
    assert response.status_code == 409
    assert Deployment.objects.get(state="active").challenger.version == 2


def test_the_approval_says_a_canary_started_and_later_its_outcome(client, approver, hand_canary):
    client.force_login(approver)
    response = client.post(
        reverse("promotion-approve", args=[hand_canary.pk]),
        {"override_reason": OVERRIDE, "replace_rollout": "on"},
        follow=True,
    )
    body = response.content.decode()
    assert "is now in Production" not in body
    assert "canary of churn-predictor v3 started at 50 % of traffic" in body
    assert ModelVersion.objects.get(version=3).stage == "staging"
    canary = Deployment.objects.get(state="active")
    assert 'id="outcome"' in body and f'href="/models/{MODEL}/deployment/"' in body
    assert "No stage change from this request." not in body

    inbox = client.get(reverse("inbox")).content.decode()
    assert "Canary of v3 started at 50 %; now at 50 % (step 1 of 2)." in inbox
    model_page = client.get(reverse("model-detail", args=[MODEL])).content.decode()
    assert "Canary of v3 started at 50 %" in model_page

    deployments.deployment_action(actor=approver, model_name=MODEL, action="rollback", reason="latency spikes")
    canary.refresh_from_db()
    page = client.get(reverse("promotion-detail", args=[hand_canary.pk])).content.decode()
    assert "Canary of v3 rolled back to 0 %: by alice-approver (latency spikes)." in page
