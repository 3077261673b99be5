"""Configuring deployments and their actions through the API: roles, rules, journal."""

import pytest

from control_plane.models import Event
from serving.models import Deployment

pytestmark = pytest.mark.django_db
URL = "/api/v1/models/churn-predictor/deployment/"


def test_without_a_deployment_the_production_version_serves(api, served, viewer):
    r = api(viewer).get(URL)

    assert r.status_code == 200
    assert r.json()["strategy"] == "single" and r.json()["champion_version"] == 1


def test_contributor_may_shadow_but_not_canary(api, served, contributor):
    c = api(contributor)

    canary = c.put(URL, {"strategy": "canary", "challenger_version": 2}, format="json")
    shadow = c.put(URL, {"strategy": "shadow", "challenger_version": 2}, format="json")

    assert canary.status_code == 403
    assert shadow.status_code == 200, shadow.json()
    assert shadow.json()["challenger_version"] == 2 and shadow.json()["state"] == "active"
    assert list(Deployment.objects.values_list("strategy", flat=True)) == ["shadow"]
    event = Event.objects.get(type="deployment.configured")
    assert event.payload["strategy"] == "shadow" and event.actor_name == contributor.username


def test_viewer_cannot_configure(api, served, viewer):
    assert api(viewer).put(URL, {"strategy": "shadow", "challenger_version": 2}, format="json").status_code == 403
    assert not Deployment.objects.exists()


def test_canary_starts_at_the_first_step_and_replaces_the_previous_deployment(api, served, approver):
    a = api(approver)
    a.put(URL, {"strategy": "shadow", "challenger_version": 2}, format="json")

    r = a.put(URL, {"strategy": "canary", "challenger_version": 2, "steps": [10, 50, 100]}, format="json")

    assert r.status_code == 200, r.json()
    assert r.json()["challenger_weight"] == 10 and r.json()["current_step"] == 0
    assert list(Deployment.objects.order_by("id").values_list("state", flat=True)) == ["replaced", "active"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"strategy": "canary"}, "challenger_version"),
        ({"strategy": "canary", "challenger_version": 2, "steps": [50, 20, 100]}, "steps"),
        ({"strategy": "canary", "challenger_version": 2, "steps": [5, 20]}, "steps"),
        ({"strategy": "teleport", "challenger_version": 2}, "strategy"),
    ],
)
def test_bad_configuration_is_422_naming_the_field(api, served, approver, body, field):
    r = api(approver).put(URL, body, format="json")

    assert r.status_code == 422, r.json()
    assert field in r.json()["error"]["details"]
    assert not Deployment.objects.exists()


def test_a_challenger_must_be_in_staging(api, served, approver):
    r = api(approver).put(URL, {"strategy": "canary", "challenger_version": 1}, format="json")

    assert r.status_code == 409 and r.json()["error"]["code"] == "challenger_not_in_staging"


def test_actions_follow_the_strategy_and_state(api, served, approver):
    a = api(approver)
    a.put(URL, {"strategy": "canary", "challenger_version": 2}, format="json")

    assert a.post(URL + "cutover/", {}, format="json").status_code == 409  # blue/green only
    assert a.post(URL + "pause/", {}, format="json").json()["state"] == "paused"
    assert a.post(URL + "pause/", {}, format="json").status_code == 409
    assert a.post(URL + "resume/", {}, format="json").json()["state"] == "active"
    aborted = a.post(URL + "abort/", {"reason": "latency"}, format="json").json()
    assert aborted["state"] == "aborted" and aborted["challenger_weight"] == 0
    assert a.post(URL + "resume/", {}, format="json").status_code == 409  # nothing live any more
    assert a.post(URL + "explode/", {}, format="json").status_code in (409, 422)
    types = list(Event.objects.filter(type__startswith="deployment.").order_by("id").values_list("type", flat=True))
    assert types == ["deployment.configured", "deployment.pause", "deployment.resume", "deployment.abort"]


def test_rollback_drill_on_request(api, served, contributor, viewer, tmp_path):
    from serving.models import RollbackDrill

    assert api(viewer).post("/api/v1/models/churn-predictor/rollback-drill/").status_code == 403
    r = api(contributor).post("/api/v1/models/churn-predictor/rollback-drill/")

    assert r.status_code == 200, r.json()
    assert r.json()["ok"] is True and r.json()["target_version"] == 1 and "scored" in r.json()["detail"]
    assert RollbackDrill.objects.get().ok


def test_a_failing_rollback_drill_is_reported_not_raised(api, served, contributor, approver, tmp_path):
    from registry.models import ModelVersion

    ModelVersion.objects.filter(version=1).update(source=f"file://{tmp_path}/gone")  # the artifact vanished
    r = api(contributor).post("/api/v1/models/churn-predictor/rollback-drill/")

    assert r.status_code == 200
    assert r.json()["ok"] is False and "cannot be loaded" in r.json()["detail"]
