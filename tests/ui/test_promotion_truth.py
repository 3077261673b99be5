"""Stale requests look stale: the request page says why and offers "File again" instead of
Approve; the inbox shows each request's gate, staleness and age; filing again supersedes
the stale request, journaled as done by the person who filed again."""

import pytest
from django.urls import reverse

from control_plane.models import Event
from registry import services
from registry.models import PromotionRequest
from tests.conftest import promote, staged_version

pytestmark = pytest.mark.django_db

MODEL = "churn-predictor"


@pytest.fixture
def stale(contributor, approver, registered_model):
    """v1 then v2 approved (v2 Production), v3 requested, then a rollback to v1: stale."""
    promote(contributor, approver)
    promote(contributor, approver)
    v3 = staged_version(contributor)
    request = services.promotion_request(actor=contributor, model_name=MODEL, version=v3.version, reason="auc")
    services.model_rollback(actor=approver, model_name=MODEL, reason="v2 misbehaves")
    return request


def test_a_stale_request_says_why_and_offers_no_approval(client, approver, stale):
    client.force_login(approver)
    body = client.get(reverse("promotion-detail", args=[stale.pk])).content.decode()
    assert 'id="stale"' in body and "Production changed since request" in body
    assert "then v2, now v1" in body
    assert 'id="approve-form"' not in body and 'id="reject-form"' not in body


def test_the_inbox_shows_gate_staleness_and_age(client, approver, contributor, stale):
    fresh = staged_version(contributor, model_name=MODEL, schema=[])
    services.promotion_request(actor=contributor, model_name=MODEL, version=fresh.version)
    client.force_login(approver)
    body = client.get(reverse("inbox")).content.decode()
    inbox = body.split('id="inbox"', 1)[1].split("</table>", 1)[0]
    assert "stale" in inbox and "Production changed since request" in inbox
    assert "gate fails" in inbox and "Serving schema present and valid" in inbox
    assert " ago" in inbox


def test_file_again_supersedes_in_the_name_of_who_filed(client, admin, contributor, stale):
    client.force_login(contributor)
    page = client.get(reverse("promotion-detail", args=[stale.pk])).content.decode()
    assert 'id="file-again-form"' in page
    client.force_login(admin)  # someone other than the first requester files again
    response = client.post(reverse("version-request-promotion", args=[MODEL, stale.version.version]), {"reason": "again"})
    assert response.status_code == 302
    stale.refresh_from_db()
    assert stale.status == "cancelled"
    new = PromotionRequest.objects.get(status="pending", version=stale.version)
    assert new.requested_by == admin
    cancelled = Event.objects.get(type="promotion.cancelled", payload__promotion_request=stale.pk)
    assert cancelled.actor_name == admin.username
