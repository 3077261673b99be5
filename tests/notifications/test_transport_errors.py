"""Whatever goes wrong inside a transport becomes a recorded, failed attempt: no delivery
stays pending without one, and "send test" answers with the failure instead of a 500."""

import pytest

from notifications.models import Channel, Delivery
from registry import services as registry

from .conftest import make_channel

pytestmark = pytest.mark.django_db


def _bad_name_channel(admin) -> Channel:
    channel = make_channel(admin, "email", ["ops@example.com"], events=["model.created"], name="ops")
    Channel.objects.filter(pk=channel.pk).update(name="ops\r\nBcc: victim@example.com")  # stored before names were checked
    return channel


def test_a_header_error_is_a_failed_attempt_not_a_pending_delivery(admin, contributor, smtp, run_commits):
    channel = _bad_name_channel(admin)
    with run_commits():
        registry.model_create(actor=contributor, name="churn")  # not about the channel: sent fine
    with run_commits():
        from notifications import services

        services.channel_test_send(actor=admin, channel_id=channel.pk)

    assert not Delivery.objects.filter(status="pending").exists()
    tested = Delivery.objects.get(channel=channel, event__type="channel.tested")
    assert tested.status == "failed"
    (attempt,) = tested.attempts.all()
    assert attempt.status == "permanent_error"
    assert "BadHeaderError" in attempt.error
    assert all("victim" not in m["Bcc"] if m["Bcc"] else True for m in smtp.messages)


def test_any_exception_inside_a_transport_is_recorded(admin, contributor, run_commits, receiver):
    channel = make_channel(admin, "webhook", receiver.url, events=["model.created"])
    Channel.objects.filter(pk=channel.pk).update(config={"url": receiver.url})  # the secret went missing
    with run_commits():
        registry.model_create(actor=contributor, name="fraud")

    delivery = Delivery.objects.get(channel=channel)
    assert delivery.status == "failed"
    (attempt,) = delivery.attempts.all()
    assert attempt.status == "permanent_error" and attempt.error.startswith("Internal error in the webhook transport")
    assert receiver.requests == []


def test_send_test_answers_the_failed_delivery_not_500(api, admin, smtp):
    channel = _bad_name_channel(admin)
    response = api(admin).post(f"/api/v1/channels/{channel.pk}/test/")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "failed"
    assert response.json()["attempts"][0]["status"] == "permanent_error"


@pytest.mark.parametrize("name", ["ops\r\nBcc: x@example.com", "ops\nteam", "tab\there", "nul\x00", "del\x7f"])
def test_names_with_control_characters_are_refused(api, admin, name):
    response = api(admin).post(
        "/api/v1/channels/", {"kind": "email", "name": name, "config": {"addresses": ["a@example.com"]}, "events": []},
        format="json",
    )
    assert response.status_code == 422, response.content
    assert "name" in response.json()["error"]["details"]
    assert not Channel.objects.exists()
