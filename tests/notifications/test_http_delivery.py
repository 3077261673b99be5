"""Slack and webhook deliveries to a real HTTP server on loopback."""

import json

import pytest

from control_plane.models import Event
from notifications.models import Channel, Delivery, DeliveryAttempt
from notifications.signing import verify
from registry import services as registry

from ..conftest import promote, register_version
from .conftest import WEBHOOK_SECRET, make_channel

pytestmark = pytest.mark.django_db


def test_slack_gets_a_block_kit_message_with_the_facts_and_a_link(admin, contributor, receiver, run_commits):
    channel = make_channel(admin, "slack", receiver.url, events=["version.registered"])
    registry.model_create(actor=contributor, name="churn")
    with run_commits():
        register_version(contributor, "churn")

    assert len(receiver.requests) == 1
    message = receiver.requests[0].json()
    header, summary, facts, actions = message["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "Version registered: churn v1", "emoji": False}}
    assert summary["text"]["text"].startswith("Version registered by carl-contributor")
    assert [f["text"] for f in facts["fields"]] == [
        "*Model*\nchurn", "*Version*\n1", "*Actor*\ncarl-contributor", "*Event*\n`version.registered`"
    ]
    assert actions["elements"][0]["url"] == "https://cp.example.com/models/churn/"
    assert "https://cp.example.com/models/churn/" in message["text"]
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.status == "succeeded"
    attempt = delivery.attempts.get()
    assert (attempt.status, attempt.response_code) == ("succeeded", 200)
    assert attempt.payload == message  # the payload shown in the history is what was sent
    channel.refresh_from_db()
    assert channel.last_success_at is not None and channel.last_error == ""


def test_promotion_events_link_to_the_promotion_page(admin, contributor, approver, receiver, run_commits):
    make_channel(admin, "slack", receiver.url, events=["promotion.approved"])
    registry.model_create(actor=contributor, name="churn-predictor")
    with run_commits():
        mv = promote(contributor, approver)

    request_id = Event.objects.get(type="promotion.approved").payload["promotion_request"]
    (message,) = receiver.bodies()
    assert message["blocks"][0]["text"]["text"] == f"Promotion approved: churn-predictor v{mv.version}"
    assert message["blocks"][-1]["elements"][0]["url"] == f"https://cp.example.com/promotions/{request_id}/"


def test_webhook_body_and_signature_verify_with_the_channel_secret(admin, contributor, receiver, run_commits):
    channel = make_channel(admin, "webhook", receiver.url, events=["model.created"])
    with run_commits():
        registry.model_create(actor=contributor, name="fraud")

    (request,) = receiver.requests
    verify(secret=WEBHOOK_SECRET, headers=request.headers, body=request.body)
    delivery = Delivery.objects.get(channel=channel)
    event = Event.objects.get(type="model.created", model_name="fraud")
    assert request.headers["webhook-id"] == str(delivery.pk)
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "id": str(delivery.pk),
        "type": "model.created",
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "model": "fraud",
        "version": None,
        "actor": "carl-contributor",
        "payload": event.payload,
        "url": "https://cp.example.com/models/fraud/",
    }
    assert WEBHOOK_SECRET not in json.dumps(delivery.attempts.get().payload)


def test_server_errors_are_retried_until_success_with_one_attempt_row_each(admin, contributor, receiver, run_commits):
    receiver.script = [500, 500, 200]
    channel = make_channel(admin, "webhook", receiver.url, events=["model.created"])
    with run_commits():
        registry.model_create(actor=contributor, name="retry-me")

    assert len(receiver.requests) == 3
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1  # one delivery, retried
    assert len({r.body for r in receiver.requests}) == 1
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.status == "succeeded"
    assert [(a.number, a.status, a.response_code) for a in delivery.attempts.all()] == [
        (1, "transient_error", 500), (2, "transient_error", 500), (3, "succeeded", 200)
    ]
    assert delivery.attempts.first().error == "HTTP 500 Internal Server Error"  # the body ("rollup_error") is not quoted
    channel.refresh_from_db()
    assert channel.consecutive_permanent_failures == 0 and channel.enabled


def test_rate_limits_are_transient_and_retries_stop_at_the_cap(admin, contributor, receiver, run_commits, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 3
    receiver.script = [429, 503, 502, 200]
    channel = make_channel(admin, "slack", receiver.url, events=["model.created"])
    with run_commits():
        registry.model_create(actor=contributor, name="busy")

    assert len(receiver.requests) == 3
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.status == "failed"
    assert [a.response_code for a in delivery.attempts.all()] == [429, 503, 502]
    channel.refresh_from_db()
    assert channel.last_error.startswith("HTTP 502") and channel.enabled
    assert channel.consecutive_permanent_failures == 0  # transient failures never disable


def test_a_client_error_is_permanent_one_attempt_and_the_last_error_is_kept(admin, contributor, receiver, run_commits):
    receiver.script = [400]
    channel = make_channel(admin, "webhook", receiver.url, events=["model.created"])
    with run_commits():
        registry.model_create(actor=contributor, name="bad-request")

    assert len(receiver.requests) == 1
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.status == "failed"
    assert [(a.status, a.response_code) for a in delivery.attempts.all()] == [("permanent_error", 400)]
    channel.refresh_from_db()
    assert channel.last_error == "HTTP 400 Bad Request"
    assert channel.last_error_at is not None and channel.consecutive_permanent_failures == 1 and channel.enabled


def test_three_permanent_failures_in_a_row_disable_the_channel(admin, contributor, receiver, run_commits):
    receiver.script = [404, 200, 404, 404, 404]
    channel = make_channel(admin, "slack", receiver.url, events=["model.created"])
    for name in ("m1", "m2", "m3", "m4", "m5", "m6"):
        with run_commits():
            registry.model_create(actor=contributor, name=name)

    channel.refresh_from_db()
    # 404, then a success resets the run, then three 404s in a row disable; m6 is not sent.
    assert len(receiver.requests) == 5
    assert not channel.enabled
    assert channel.disabled_reason.startswith("Disabled after 3 permanent failures in a row")
    assert channel.disabled_reason.endswith("last: HTTP 404 Not Found")
    assert not Delivery.objects.filter(channel=channel, event__model_name="m6").exists()
    assert Event.objects.filter(type="channel.disabled", payload__channel=channel.pk).count() == 1


def test_pending_deliveries_of_a_channel_disabled_meanwhile_are_skipped(admin, contributor, receiver, run_commits):
    from notifications.delivery import delivery_attempt

    channel = make_channel(admin, "slack", receiver.url, events=["model.created"])
    registry.model_create(actor=contributor, name="late")
    from control_plane.journal import events_dispatch

    events_dispatch()  # routed, but its task never ran
    Channel.objects.filter(pk=channel.pk).update(enabled=False)
    delivery = Delivery.objects.get(channel=channel)

    assert delivery_attempt(delivery_id=delivery.pk).status == "skipped"
    assert receiver.requests == []
    assert not DeliveryAttempt.objects.exists()


def test_connection_refused_is_transient(admin, contributor, run_commits, settings):
    from .servers import free_port

    settings.NOTIFY_MAX_ATTEMPTS = 2
    channel = make_channel(admin, "webhook", f"http://127.0.0.1:{free_port()}/gone", events=["model.created"])
    with run_commits():
        registry.model_create(actor=contributor, name="nobody-home")

    delivery = Delivery.objects.get(channel=channel)
    assert [(a.status, a.response_code) for a in delivery.attempts.all()] == [
        ("transient_error", None), ("transient_error", None)
    ]
    assert delivery.attempts.first().error.startswith("Connection failed")
