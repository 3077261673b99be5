"""Email deliveries to a real SMTP server (aiosmtpd) on loopback."""

import pytest

from control_plane.journal import events_dispatch
from control_plane.models import Event
from control_plane.users import user_create
from notifications.models import Delivery
from registry import services as registry

from ..conftest import PASSWORD, make_user, staged_version
from .conftest import make_channel

pytestmark = pytest.mark.django_db


def with_email(username, role):
    user, _ = user_create(username=username, role=role, password=PASSWORD, email=f"{username}@example.com")
    return user


def test_email_channel_sends_subject_recipients_and_a_link(admin, contributor, smtp, run_commits):
    channel = make_channel(admin, "email", ["ops@example.com", "ml@example.com"], events=["version.stage_changed"])
    registry.model_create(actor=contributor, name="churn-predictor")
    with run_commits():
        staged_version(contributor)

    (message,) = smtp.messages
    assert message["Subject"].strip() == "[ML control plane] Stage changed: churn-predictor v1 → staging"
    assert sorted(smtp.envelopes[0][1]) == ["ml@example.com", "ops@example.com"]
    body = message.get_content()
    assert "Open: https://cp.example.com/models/churn-predictor/" in body
    assert "By:      carl-contributor" in body
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.status == "succeeded"
    assert message["X-Delivery-Id"] == str(delivery.pk)
    assert delivery.attempts.get().payload["to"] == ["ops@example.com", "ml@example.com"]


def test_approvers_get_promotion_requests_by_email_without_any_channel(contributor, smtp, run_commits):
    approver = with_email("amy-approver", "approver")
    admin = with_email("adam-admin", "admin")
    with_email("val-viewer", "viewer")
    requester = with_email("rita-requester", "contributor")
    make_user("nora-no-email", "approver")
    registry.model_create(actor=contributor, name="churn-predictor")
    mv = staged_version(contributor)
    with run_commits():
        promotion = registry.promotion_request(actor=requester, model_name="churn-predictor", version=mv.version)

    recipients = sorted(r for _, rcpts in smtp.envelopes for r in rcpts)
    assert recipients == ["adam-admin@example.com", "amy-approver@example.com"]  # not the viewer nor the requester
    message = smtp.messages[0]
    assert message["Subject"] == "[ML control plane] Promotion requested: churn-predictor v1"
    assert f"Open: https://cp.example.com/promotions/{promotion.pk}/" in message.get_content()
    deliveries = Delivery.objects.filter(event__type="promotion.requested")
    assert {(d.recipient_id, d.channel_id, d.status) for d in deliveries} == {
        (approver.pk, None, "succeeded"), (admin.pk, None, "succeeded")
    }


def test_the_requester_is_not_mailed_about_their_own_request(contributor, smtp, run_commits):
    admin = with_email("adam-admin", "admin")
    registry.model_create(actor=contributor, name="churn-predictor")
    mv = staged_version(contributor)
    with run_commits():
        registry.promotion_request(actor=admin, model_name="churn-predictor", version=mv.version)

    assert smtp.messages == []


def test_the_approver_rule_can_be_turned_off(contributor, smtp, run_commits, settings):
    settings.NOTIFY_APPROVER_EMAILS = False
    with_email("amy-approver", "approver")
    registry.model_create(actor=contributor, name="churn-predictor")
    mv = staged_version(contributor)
    with run_commits():
        registry.promotion_request(actor=contributor, model_name="churn-predictor", version=mv.version)

    assert smtp.messages == []
    assert not Delivery.objects.exists()


def test_a_refused_recipient_is_a_permanent_error(admin, contributor, smtp, run_commits):
    smtp.refuse = {"gone@example.com"}
    channel = make_channel(admin, "email", ["gone@example.com"], events=["model.created"])
    with run_commits():
        registry.model_create(actor=contributor, name="any")

    delivery = Delivery.objects.get(channel=channel)
    assert delivery.status == "failed"
    (attempt,) = delivery.attempts.all()
    assert (attempt.status, attempt.response_code) == ("permanent_error", 550)
    channel.refresh_from_db()
    assert channel.last_error.startswith("Recipients refused: gone@example.com")


def test_an_unreachable_mail_server_is_transient(admin, contributor, settings, run_commits):
    from .servers import free_port

    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.NOTIFY_MAX_ATTEMPTS = "127.0.0.1", free_port(), 2
    channel = make_channel(admin, "email", ["ops@example.com"], events=["model.created"])
    with run_commits():
        registry.model_create(actor=contributor, name="any")

    statuses = list(Delivery.objects.get(channel=channel).attempts.values_list("status", flat=True))
    assert statuses == ["transient_error", "transient_error"]


def test_routing_an_event_twice_delivers_it_once(admin, contributor, smtp, run_commits):
    make_channel(admin, "email", ["ops@example.com"], events=["model.created"])
    registry.model_create(actor=contributor, name="once")
    event = Event.objects.get(type="model.created", model_name="once")
    from notifications.routing import event_route

    with run_commits():
        events_dispatch()
    with run_commits():
        event_route(event)  # as if a second dispatcher had handled it too

    assert len(smtp.messages) == 1
    assert Delivery.objects.filter(event=event).count() == 1
