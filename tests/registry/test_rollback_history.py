"""Rollback restores an earlier Production version at once and records it; the stage
history answers "what was in Production at time T"."""

from datetime import datetime, timedelta, timezone as dt_timezone

from control_plane.models import Event
from registry.models import ModelVersion, StageTransition
from tests.conftest import promote, staged_version

MODEL = "churn-predictor"
ROLLBACK = f"/api/v1/models/{MODEL}/rollback/"


def stages() -> dict[int, str]:
    return dict(ModelVersion.objects.filter(model__name=MODEL).values_list("version", "stage"))


def state() -> tuple:
    return stages(), StageTransition.objects.count(), Event.objects.count()


def test_rollback_restores_the_previous_version_and_records_it(api, registered_model, contributor, approver):
    promote(contributor, approver)
    promote(contributor, approver)
    assert stages() == {1: "archived", 2: "production"}
    client = api(approver)
    reason = "v2 doubles the false-positive rate"

    r = client.post(ROLLBACK, {"reason": reason}, format="json", headers={"X-Request-ID": "rollback-1"})

    assert r.status_code == 200, r.json()
    assert r.json()["version"] == 1 and r.json()["stage"] == "production"
    assert stages() == {1: "production", 2: "archived"}
    restored = StageTransition.objects.get(kind="rollback")
    assert (restored.version.version, restored.from_stage, restored.to_stage) == (1, "archived", "production")
    assert restored.reason == reason and restored.actor == approver and restored.promotion_request is None
    replaced = StageTransition.objects.filter(kind="replaced").order_by("-id").first()
    assert (replaced.version.version, replaced.from_stage, replaced.to_stage) == (2, "production", "archived")
    event = Event.objects.get(type="model.rolled_back")
    assert event.actor == approver and event.model_name == MODEL and event.version == 1
    assert event.payload == {"reason": reason, "from_version": 2, "to_version": 1}
    assert event.request_id == "rollback-1"
    assert client.get(f"/api/v1/models/{MODEL}/").json()["production_version"] == 1
    # Rolling back twice goes back to v2: the most recent other Production version.
    r = client.post(ROLLBACK, {"reason": "v1 was worse after all"}, format="json")
    assert r.status_code == 200 and r.json()["version"] == 2
    assert stages() == {1: "archived", 2: "production"}


def test_rollback_to_a_named_version(api, registered_model, contributor, approver):
    for _ in range(3):
        promote(contributor, approver)
    r = api(approver).post(ROLLBACK, {"reason": "back to the first", "to_version": 1}, format="json")
    assert r.status_code == 200 and r.json()["version"] == 1
    assert stages() == {1: "production", 2: "archived", 3: "archived"}


def test_rollback_to_a_version_never_in_production_is_refused(api, registered_model, contributor, approver):
    promote(contributor, approver)
    promote(contributor, approver)
    staged_version(contributor)  # v3: staging, never approved
    client = api(approver)
    before = state()

    r = client.post(ROLLBACK, {"reason": "try v3", "to_version": 3}, format="json")
    assert r.status_code == 409, r.json()
    assert r.json()["error"]["code"] == "rollback_target_never_production"
    r = client.post(ROLLBACK, {"reason": "already there", "to_version": 2}, format="json")
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_in_stage"
    r = client.post(ROLLBACK, {"reason": "no such", "to_version": 99}, format="json")
    assert r.status_code == 404 and r.json()["error"]["code"] == "version_not_found"

    assert state() == before
    assert stages() == {1: "archived", 2: "production", 3: "staging"}


def test_rollback_without_an_earlier_production_version_is_refused(api, registered_model, contributor, approver):
    promote(contributor, approver)
    client = api(approver)
    before = state()
    r = client.post(ROLLBACK, {"reason": "nothing to go back to"}, format="json")
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_rollback_target"
    assert state() == before


def test_rollback_without_a_reason_is_422(api, registered_model, contributor, approver):
    promote(contributor, approver)
    promote(contributor, approver)
    client = api(approver)
    before = state()

    for body in ({}, {"reason": ""}, {"reason": "   "}, {"to_version": 1}):
        r = client.post(ROLLBACK, body, format="json")
        assert r.status_code == 422, (body, r.json())
        assert "reason" in r.json()["error"]["details"], body

    assert state() == before
    assert not StageTransition.objects.filter(kind="rollback").exists()


# --- History ---------------------------------------------------------------------------

T0 = datetime(2030, 3, 1, 10, 0, tzinfo=dt_timezone.utc)


def stamp_new_transitions(after_id: int, when: datetime) -> int:
    """Give the transitions written since `after_id` a known time; returns the new high id."""
    new = StageTransition.objects.filter(id__gt=after_id)
    assert new.exists()
    new.update(created_at=when)
    return StageTransition.objects.order_by("-id").values_list("id", flat=True).first()


def test_history_at_answers_the_production_version_at_each_time(api, registered_model, contributor, approver):
    from registry import services

    promote(contributor, approver)
    last = stamp_new_transitions(0, T0)  # 10:00 v1
    promote(contributor, approver)
    last = stamp_new_transitions(last, T0 + timedelta(hours=1))  # 11:00 v2
    promote(contributor, approver)
    last = stamp_new_transitions(last, T0 + timedelta(hours=2))  # 12:00 v3
    services.model_rollback(actor=approver, model_name=MODEL, reason="v3 regressed")
    last = stamp_new_transitions(last, T0 + timedelta(hours=3))  # 13:00 back to v2
    client = api(contributor)

    def at(when: datetime):
        r = client.get(f"/api/v1/models/{MODEL}/history/", {"at": when.isoformat()})
        assert r.status_code == 200, r.json()
        assert datetime.fromisoformat(r.json()["at"].replace("Z", "+00:00")) == when
        production = r.json()["production_version"]
        return production["version"] if production else None

    expected = {
        T0 - timedelta(days=1): None,
        T0 - timedelta(microseconds=1): None,
        T0: 1,
        T0 + timedelta(minutes=30): 1,
        T0 + timedelta(hours=1): 2,
        T0 + timedelta(hours=1, minutes=30): 2,
        T0 + timedelta(hours=2, minutes=30): 3,
        T0 + timedelta(hours=3, minutes=30): 2,
        T0 + timedelta(days=365): 2,
    }
    assert {when: at(when) for when in expected} == expected

    # Other offsets mean the same instant; 'Z' is accepted too.
    r = client.get(f"/api/v1/models/{MODEL}/history/", {"at": "2030-03-01T14:30:00+02:00"})  # 12:30 UTC
    assert r.json()["production_version"]["version"] == 3
    r = client.get(f"/api/v1/models/{MODEL}/history/", {"at": "2030-03-01T10:30:00Z"})
    assert r.json()["production_version"]["version"] == 1

    # Without ?at= the timeline, newest first, ends with the rollback.
    timeline = client.get(f"/api/v1/models/{MODEL}/history/").json()
    assert timeline["count"] == StageTransition.objects.filter(model__name=MODEL).count()
    newest = timeline["results"][0]
    assert (newest["kind"], newest["version"], newest["to_stage"], newest["reason"]) == (
        "rollback",
        2,
        "production",
        "v3 regressed",
    )


def test_history_with_a_bad_at_is_422(api, registered_model, contributor, approver):
    promote(contributor, approver)
    client = api(contributor)
    for bad in ("yesterday", "2030-13-45T00:00:00Z", "2030-03-01T10:00:00"):  # the last has no timezone
        r = client.get(f"/api/v1/models/{MODEL}/history/", {"at": bad})
        assert r.status_code == 422, (bad, r.content)
        assert "at" in r.json()["error"]["details"]
    assert client.get("/api/v1/models/no-such-model/history/").status_code == 404
