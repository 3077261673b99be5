"""Channel pages through Django's test client: health, the admin-only form, the
delivery history with escaped payloads, and secrets never shown back."""

import pytest
from django.test import Client
from django.urls import reverse

from control_plane.models import Event
from notifications.models import Channel, Delivery
from registry import services as registry

from .conftest import WEBHOOK_SECRET, make_channel

pytestmark = pytest.mark.django_db
XSS = "<script>alert(1)</script>"
SLACK_URL_SECRET = "SLACKSECRETxyz987"


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_list_shows_health_and_the_disabled_badge(admin, viewer, receiver):
    healthy = make_channel(admin, "slack", receiver.url + "/" + SLACK_URL_SECRET, name="team-slack")
    broken = make_channel(admin, "webhook", "https://ci.example.com/hook", name="ci-hook")
    Channel.objects.filter(pk=broken.pk).update(
        enabled=False, disabled_reason="Disabled after 3 permanent failures in a row; last: HTTP 404: no_service",
        last_error="HTTP 404: no_service",
    )
    login(admin).post(reverse("channel-test", args=[healthy.pk]))
    page = login(viewer).get(reverse("channels"))

    html = page.content.decode()
    assert page.status_code == 200
    assert "team-slack" in html and "ci-hook" in html
    assert 'class="badge status-fail" title="Disabled after 3 permanent failures' in html
    assert "HTTP 404: no_service" in html
    healthy.refresh_from_db()
    assert healthy.last_success_at.strftime("%Y-%m-%d %H:%M") in html
    assert SLACK_URL_SECRET not in html and WEBHOOK_SECRET not in html
    assert reverse("channel-new") not in html  # viewers do not manage channels
    detail = login(viewer).get(reverse("channel-detail", args=[broken.pk])).content.decode()
    assert "This channel is disabled: Disabled after 3 permanent failures" in detail


def test_only_admins_reach_the_form(admin, approver):
    assert login(approver).get(reverse("channel-new")).status_code == 403
    assert login(approver).post(reverse("channel-new"), {"kind": "email", "name": "x"}).status_code == 403
    assert login(admin).get(reverse("channel-new")).status_code == 200
    assert not Channel.objects.exists()


def test_admin_creates_and_edits_a_webhook_without_seeing_the_secret(admin):
    client = login(admin)
    response = client.post(reverse("channel-new"), {
        "kind": "webhook", "name": "ci", "url": "https://ci.example.com/hook", "secret": WEBHOOK_SECRET,
        "events": ["promotion.approved", "model.rolled_back"], "extra_events": "drift.detected", "models": "churn, fraud",
        "enabled": "on",
    })
    channel = Channel.objects.get()
    assert response.status_code == 302 and response.url == reverse("channel-detail", args=[channel.pk])
    assert channel.config == {"url": "https://ci.example.com/hook", "secret": WEBHOOK_SECRET}
    assert channel.events == ["drift.detected", "model.rolled_back", "promotion.approved"]
    assert channel.model_names == ["churn", "fraud"]

    form = client.get(reverse("channel-edit", args=[channel.pk])).content.decode()
    assert WEBHOOK_SECRET not in form and "…OA==" in form
    client.post(reverse("channel-edit", args=[channel.pk]), {"name": "ci", "url": "", "secret": "", "events": ["promotion.approved"]})
    channel.refresh_from_db()
    assert channel.config["secret"] == WEBHOOK_SECRET  # empty field kept it
    assert channel.events == ["promotion.approved"] and channel.model_names == [] and not channel.enabled


def test_a_refused_form_rerenders_with_the_error_and_saves_nothing(admin, settings):
    settings.NOTIFY_ALLOW_HTTP = False
    response = login(admin).post(reverse("channel-new"), {"kind": "slack", "name": "s", "url": "http://hooks.example.com/x"})

    assert response.status_code == 422
    assert "Must be an https:// URL" in response.content.decode()
    assert not Channel.objects.exists()


def test_history_shows_attempts_with_the_escaped_payload(admin, contributor, viewer, receiver, run_commits):
    from ..conftest import register_version

    receiver.script = [500, 200]
    channel = make_channel(admin, "webhook", receiver.url, events=["version.registered", "version.stage_changed"])
    registry.model_create(actor=contributor, name="xss-model")
    with run_commits():
        mv = register_version(contributor, "xss-model")
    with run_commits():
        registry.version_set_stage(actor=contributor, model_name="xss-model", version=mv.version, stage="staging", reason=XSS)

    html = login(viewer).get(reverse("channel-detail", args=[channel.pk])).content.decode()
    assert html.count('class="attempt-status">transient_error') == 1
    assert html.count('class="attempt-status">succeeded') == 2
    assert "code 500" in html and "HTTP 500 Internal Server Error" in html
    assert "&quot;type&quot;: &quot;version.stage_changed&quot;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and XSS not in html


def test_event_deliveries_page_lists_every_target(admin, contributor, viewer, receiver, smtp, run_commits):
    from control_plane.users import user_create

    from ..conftest import PASSWORD, staged_version

    user_create(username="amy-approver", role="approver", password=PASSWORD, email="amy@example.com")
    make_channel(admin, "slack", receiver.url, name="team", events=["promotion.requested"])
    registry.model_create(actor=contributor, name="churn-predictor")
    mv = staged_version(contributor)
    with run_commits():
        registry.promotion_request(actor=contributor, model_name="churn-predictor", version=mv.version)
    event = Event.objects.get(type="promotion.requested")

    html = login(viewer).get(reverse("event-deliveries", args=[event.pk])).content.decode()
    assert Delivery.objects.filter(event=event).count() == 2
    assert ">team</a>" in html and "approver email to amy-approver" in html
    assert html.count('class="attempt-status">succeeded') == 2
    assert login(viewer).get(reverse("event-deliveries", args=[999999])).status_code == 404


def test_delete_from_the_page(admin):
    channel = make_channel(admin, "email", ["ops@example.com"])
    response = login(admin).post(reverse("channel-delete", args=[channel.pk]))

    assert response.status_code == 302 and not Channel.objects.exists()
