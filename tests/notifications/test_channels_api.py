"""The channels API: roles, validation in the project's error format, secrets never
shown back, the test action and the delivery histories."""

import json

import pytest

from control_plane.models import Event
from notifications.models import Channel
from registry import services as registry

from .conftest import WEBHOOK_SECRET, make_channel

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T0001/B0002/SLACKSECRETxyz987"


def create(client, **body):
    return client.post("/api/v1/channels/", body, format="json")


def everything_said(client, channel_id) -> str:
    """Every API answer that describes the channel, as one string."""
    answers = [
        client.get("/api/v1/channels/"),
        client.get(f"/api/v1/channels/{channel_id}/"),
        client.get(f"/api/v1/channels/{channel_id}/deliveries/"),
        client.get("/api/v1/events/"),
    ]
    assert all(a.status_code == 200 for a in answers)
    return json.dumps([a.json() for a in answers])


def test_secrets_are_never_returned(api, admin, viewer):
    client = api(admin)
    slack = create(client, kind="slack", name="team", config={"url": SLACK_URL}, events=["promotion.requested"])
    hook = create(client, kind="webhook", name="ci", config={"url": "https://ci.example.com/hook", "secret": WEBHOOK_SECRET}, events=[])
    assert slack.status_code == hook.status_code == 201, (slack.json(), hook.json())
    assert slack.json()["config"] == {"url_hint": "https://hooks.slack.com/…z987"}
    assert hook.json()["config"] == {"url": "https://ci.example.com/hook", "secret_hint": "…OA=="}
    patched = client.patch(f"/api/v1/channels/{hook.json()['id']}/", {"name": "ci-2"}, format="json")

    for said in (json.dumps([slack.json(), hook.json(), patched.json()]),
                 everything_said(client, slack.json()["id"]),
                 everything_said(api(viewer), hook.json()["id"])):
        assert "SLACKSECRET" not in said and "T0001/B0002" not in said
        assert WEBHOOK_SECRET not in said and WEBHOOK_SECRET[6:20] not in said


def test_everyone_with_a_role_reads_only_admins_write(api, admin, viewer, approver, contributor):
    channel = make_channel(admin, "email", ["ops@example.com"], events=["promotion.approved"])
    for user in (viewer, approver, contributor):
        client = api(user)
        assert client.get("/api/v1/channels/").json()["count"] == 1
        assert client.get(f"/api/v1/channels/{channel.pk}/deliveries/").status_code == 200
        denied = [
            create(client, kind="email", name="x", config={"addresses": ["a@example.com"]}, events=[]),
            client.patch(f"/api/v1/channels/{channel.pk}/", {"enabled": False}, format="json"),
            client.delete(f"/api/v1/channels/{channel.pk}/"),
            client.post(f"/api/v1/channels/{channel.pk}/test/"),
        ]
        assert [r.status_code for r in denied] == [403] * 4
        assert denied[0].json()["error"]["code"] == "permission_denied"
    assert Channel.objects.get().enabled


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("slack", {"url": "http://hooks.slack.com/services/x"}, "url"),
        ("slack", {"url": "not a url"}, "url"),
        ("slack", {}, "url"),
        ("webhook", {"url": "https://ci.example.com/hook"}, "secret"),
        ("webhook", {"url": "https://ci.example.com/hook", "secret": "short"}, "secret"),
        ("email", {"addresses": ["not-an-address"]}, "addresses"),
        ("email", {"addresses": []}, "addresses"),
        ("email", {"addresses": ["a@example.com"], "cc": ["b@example.com"]}, "cc"),
    ],
)
def test_bad_config_answers_422_naming_the_field(api, admin, settings, kind, config, field):
    settings.NOTIFY_ALLOW_HTTP = False
    response = create(api(admin), kind=kind, name="bad", config=config, events=[])

    assert response.status_code == 422, response.json()
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]["config"]
    assert not Channel.objects.exists()


def test_http_is_allowed_to_loopback_or_with_the_setting(api, admin, settings):
    settings.NOTIFY_ALLOW_HTTP = False
    client = api(admin)
    assert create(client, kind="slack", name="local", config={"url": "http://127.0.0.1:9/x"}, events=[]).status_code == 201
    assert create(client, kind="slack", name="remote", config={"url": "http://hooks.example.com/x"}, events=[]).status_code == 422
    settings.NOTIFY_ALLOW_HTTP = True
    assert create(client, kind="slack", name="remote", config={"url": "http://hooks.example.com/x"}, events=[]).status_code == 201


def test_subscriptions_accept_any_well_formed_type_and_reject_others(api, admin):
    client = api(admin)
    ok = create(client, kind="email", name="future", config={"addresses": ["a@example.com"]},
                events=["drift.detected", "promotion.requested", "drift.detected"], models=["churn", "fraud"])
    assert ok.status_code == 201
    assert ok.json()["events"] == ["drift.detected", "promotion.requested"]
    assert ok.json()["models"] == ["churn", "fraud"]
    for events in (["Promotion.Requested"], ["promotion"], ["a.b.c"]):
        bad = create(client, kind="email", name="bad", config={"addresses": ["a@example.com"]}, events=events)
        assert bad.status_code == 422 and "events" in bad.json()["error"]["details"]
    spaced = create(client, kind="email", name="spaced", config={"addresses": ["a@example.com"]}, events=[],
                    models=["Churn model 1"])  # any name MLflow allows (registry/names.py)
    assert spaced.status_code == 201 and spaced.json()["models"] == ["Churn model 1"]
    slashed = create(client, kind="email", name="slash", config={"addresses": ["a@example.com"]}, events=[],
                     models=["team/churn"])
    assert slashed.status_code == 422 and "models" in slashed.json()["error"]["details"]
    unknown = create(client, kind="email", name="bad", config={"addresses": ["a@example.com"]}, events=[], colour="red")
    assert unknown.status_code == 422 and "colour" in unknown.json()["error"]["details"]


def test_an_idempotency_key_replays_the_creation(api, admin):
    client = api(admin)
    body = {"kind": "email", "name": "ops", "config": {"addresses": ["a@example.com"]}, "events": []}
    first = client.post("/api/v1/channels/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post("/api/v1/channels/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert Channel.objects.count() == 1


def test_duplicate_names_conflict(api, admin):
    client = api(admin)
    body = {"kind": "email", "name": "ops", "config": {"addresses": ["a@example.com"]}, "events": []}
    assert create(client, **body).status_code == 201
    again = create(client, **body)
    assert again.status_code == 409 and again.json()["error"]["code"] == "channel_exists"


def test_patch_merges_config_keeping_the_secret_and_journals_without_it(api, admin, receiver, run_commits):
    client = api(admin)
    created = create(client, kind="webhook", name="ci", config={"url": "https://old.example.com/h", "secret": WEBHOOK_SECRET},
                     events=["model.created"])
    pk = created.json()["id"]
    response = client.patch(f"/api/v1/channels/{pk}/", {"config": {"url": receiver.url}, "models": ["m"]}, format="json")

    assert response.status_code == 200, response.json()
    channel = Channel.objects.get(pk=pk)
    assert channel.config == {"url": receiver.url, "secret": WEBHOOK_SECRET}
    event = Event.objects.filter(type="channel.updated").get()
    assert event.payload["changed"] == ["config", "models"]
    assert WEBHOOK_SECRET not in json.dumps(event.payload)
    bad = client.patch(f"/api/v1/channels/{pk}/", {"config": {"secret": "short"}}, format="json")
    assert bad.status_code == 422 and "secret" in bad.json()["error"]["details"]["config"]
    assert client.patch(f"/api/v1/channels/{pk}/", {"kind": "slack"}, format="json").status_code == 422


def test_reenabling_clears_the_failure_run(api, admin):
    channel = make_channel(admin, "email", ["ops@example.com"])
    Channel.objects.filter(pk=channel.pk).update(enabled=False, disabled_reason="Disabled after 3 …", consecutive_permanent_failures=3)
    body = api(admin).patch(f"/api/v1/channels/{channel.pk}/", {"enabled": True}, format="json").json()

    assert (body["enabled"], body["disabled_reason"], body["consecutive_permanent_failures"]) == (True, "", 0)


def test_delete_journals_and_removes_the_channel(api, admin):
    channel = make_channel(admin, "email", ["ops@example.com"])
    client = api(admin)
    assert client.delete(f"/api/v1/channels/{channel.pk}/").status_code == 204
    assert client.get(f"/api/v1/channels/{channel.pk}/").status_code == 404
    assert client.delete(f"/api/v1/channels/{channel.pk}/").json()["error"]["code"] == "channel_not_found"
    assert Event.objects.filter(type="channel.deleted", payload__channel=channel.pk).exists()


def test_send_test_answers_the_delivery_with_its_attempt(api, admin, receiver, run_commits):
    channel = make_channel(admin, "webhook", receiver.url, events=["promotion.requested"])
    everything = make_channel(admin, "slack", receiver.url, name="every-event", events=[])
    Channel.objects.filter(pk=channel.pk).update(enabled=False)  # a test works on a disabled channel too
    with run_commits():
        response = api(admin).post(f"/api/v1/channels/{channel.pk}/test/")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "succeeded" and body["channel"] == channel.pk
    assert body["event"]["type"] == "channel.tested"
    (attempt,) = body["attempts"]
    assert (attempt["number"], attempt["status"], attempt["response_code"]) == (1, "succeeded", 200)
    assert attempt["payload"]["type"] == "channel.tested"
    # The test message goes to the channel under test only, not to one subscribed to everything.
    (request,) = [r for r in receiver.requests if "webhook-id" in r.headers]
    assert request.headers["webhook-id"] == str(body["id"])
    assert not everything.deliveries.filter(event__type="channel.tested").exists()
    assert everything.deliveries.filter(event__type="channel.created").exists()  # it does get the rest


def test_a_failing_test_send_is_not_retried(api, admin, receiver):
    receiver.script = [500, 200]
    channel = make_channel(admin, "slack", receiver.url)
    body = api(admin).post(f"/api/v1/channels/{channel.pk}/test/").json()

    assert body["status"] == "failed" and len(body["attempts"]) == 1
    assert body["last_error"] == "HTTP 500 Internal Server Error"  # the receiver's body is not quoted
    assert len(receiver.requests) == 1


def test_subscriptions_filter_by_type_and_model(api, admin, contributor, viewer, receiver, run_commits):
    by_type = make_channel(admin, "slack", receiver.url, name="created-only", events=["model.created"])
    by_model = make_channel(admin, "slack", receiver.url, name="churn-only", models=["churn"])
    both = make_channel(admin, "slack", receiver.url, name="churn-created", events=["model.created"], models=["churn"])
    with run_commits():
        registry.model_create(actor=contributor, name="churn")
        registry.model_create(actor=contributor, name="fraud")
        registry.model_update(actor=contributor, name="fraud", description="changed")

    def delivered(channel):
        answer = api(viewer).get(f"/api/v1/channels/{channel.pk}/deliveries/").json()
        return sorted((d["event"]["type"], d["event"]["model"]) for d in answer["results"])

    assert delivered(by_type) == [("model.created", "churn"), ("model.created", "fraud")]
    assert delivered(by_model) == [("model.created", "churn")]
    assert delivered(both) == [("model.created", "churn")]
    event = Event.objects.get(type="model.created", model_name="churn")
    per_event = api(viewer).get(f"/api/v1/events/{event.pk}/deliveries/").json()
    assert sorted(d["channel"] for d in per_event["results"]) == sorted([by_type.pk, by_model.pk, both.pk])
    assert all(d["attempts"][0]["status"] == "succeeded" for d in per_event["results"])
    assert api(viewer).get("/api/v1/events/999999/deliveries/").status_code == 404
