"""GET/PUT /api/v1/models/{name}/monitor/ (and beat's PeriodicTask), POST .../drift/run/,
GET .../drift/reports/: validation, permissions, pagination."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from control_plane.models import Event
from monitoring.models import DriftReport, MonitorPolicy
from monitoring.policies import monitor_policy_get
from tests.conftest import register_version

from . import drift_support
from .drift_support import MODEL, customers, log_traffic

pytestmark = pytest.mark.django_db
# Fixtures (from drift_support, shared by the drift test modules)
drift_settings = drift_support.drift_settings
saved_model = drift_support.saved_model
production = drift_support.production
referenced = drift_support.referenced
POLICY = f"/api/v1/models/{MODEL}/monitor/"
REPORTS = f"/api/v1/models/{MODEL}/drift/reports/"


def beat_row(model) -> PeriodicTask:
    return PeriodicTask.objects.select_related("crontab").get(name=f"drift-monitor-model-{model.pk}")


def test_a_policy_is_created_with_defaults_on_first_read(api, production, viewer):
    r = api(viewer).get(POLICY)

    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["enabled"] is True and body["schedule"] == "0 3 * * *"
    assert body["sample_size"] == 10_000 and body["window_hours"] == 24 and body["key_features"] == []
    assert body["thresholds"]["psi_moderate"] == 0.1 and body["thresholds"]["psi_major"] == 0.25
    assert body["thresholds"]["accuracy_drop"] == 0.05
    task = beat_row(production.model)
    assert body["periodic_task"] == task.name and task.task == "monitoring.tasks.drift_run_scheduled"
    assert json.loads(task.args) == [production.model.pk] and task.enabled
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year, crontab.day_of_week) == (
        "0",
        "3",
        "*",
        "*",
        "*",
    )
    assert str(crontab.timezone) == "UTC"


def test_put_changes_the_policy_and_beats_row_together(api, production, contributor):
    r = api(contributor).put(
        POLICY,
        {
            "schedule": "*/30 6-18 * * 1-5",
            "sample_size": 5000,
            "window_hours": 12,
            "enabled": False,
            "thresholds": {"psi_major": 0.3},
            "key_features": ["tenure_months"],
        },
        format="json",
    )

    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["schedule"] == "*/30 6-18 * * 1-5" and body["sample_size"] == 5000 and body["enabled"] is False
    assert body["thresholds"]["psi_major"] == 0.3 and body["thresholds"]["psi_moderate"] == 0.1
    assert body["key_features"] == ["tenure_months"] and body["updated_by"] == contributor.username
    task = beat_row(production.model)
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("*/30", "6-18", "1-5")
    assert task.enabled is False and PeriodicTask.objects.filter(task=task.task).count() == 1
    event = Event.objects.get(type="monitor.updated")
    assert event.payload["changed"]["sample_size"] == 5000 and event.actor_name == contributor.username

    again = api(contributor).put(POLICY, {"enabled": True}, format="json").json()
    assert again["enabled"] is True and again["sample_size"] == 5000 and beat_row(production.model).enabled


@pytest.mark.parametrize(
    "body, field",
    [
        ({"schedule": "0 3 * *"}, "schedule"),
        ({"schedule": "61 3 * * *"}, "schedule"),
        ({"schedule": "0 25 * * *"}, "schedule"),
        ({"schedule": "@daily"}, "schedule"),
        ({"sample_size": 99}, "sample_size"),
        ({"sample_size": 1_000_001}, "sample_size"),
        ({"window_hours": 0}, "window_hours"),
        ({"thresholds": {"psi_huge": 1.0}}, "thresholds"),
        ({"thresholds": {"psi_major": "lots"}}, "thresholds"),
        ({"thresholds": {"psi_moderate": 0.3}}, "thresholds"),
        ({"thresholds": {"js_moderate": 0.5, "js_major": 0.4}}, "thresholds"),
        ({"thresholds": {"ks_pvalue": 1.5}}, "thresholds"),
        ({"key_features": ["tenure_months", "favourite_colour"]}, "key_features"),
        ({"enabled": True, "colour": "red"}, "colour"),
    ],
)
def test_bad_policies_are_422_naming_the_field_and_change_nothing(api, production, contributor, body, field):
    before = api(contributor).get(POLICY).json()

    r = api(contributor).put(POLICY, body, format="json")

    assert r.status_code == 422, r.json()
    assert field in r.json()["error"]["details"], r.json()
    assert api(contributor).get(POLICY).json() == before
    task = beat_row(production.model)
    assert (task.crontab.minute, task.crontab.hour) == ("0", "3")


def test_key_features_are_free_without_a_production_version(api, registered_model, contributor):
    register_version(contributor)

    r = api(contributor).put(POLICY, {"key_features": ["anything"]}, format="json")

    assert r.status_code == 200 and r.json()["key_features"] == ["anything"]


def test_edits_to_the_periodic_task_in_the_admin_are_adopted(production):
    policy = monitor_policy_get(production.model)
    task = policy.periodic_task
    task.crontab = CrontabSchedule.objects.create(minute="15", hour="4", timezone="UTC")
    task.enabled = False
    task.save()

    policy = monitor_policy_get(production.model)

    assert policy.schedule == "15 4 * * *" and policy.enabled is False


def test_who_may_change_the_policy_and_run(api, referenced, viewer, approver, contributor):
    assert api(viewer).put(POLICY, {"enabled": False}, format="json").status_code == 403
    assert api(viewer).post(f"/api/v1/models/{MODEL}/drift/run/", {}, format="json").status_code == 403
    assert api(contributor, read_only=True).put(POLICY, {"enabled": False}, format="json").status_code == 403
    assert MonitorPolicy.objects.get().enabled is True and not DriftReport.objects.exists()
    assert api(approver).put(POLICY, {"sample_size": 2000}, format="json").status_code == 200
    assert api(approver).post(f"/api/v1/models/{MODEL}/drift/run/", {}, format="json").status_code == 202
    assert api(viewer).get(REPORTS).json()["count"] == 1


def test_run_input_is_checked(api, referenced, contributor):
    client = api(contributor)
    now = timezone.now()
    run = f"/api/v1/models/{MODEL}/drift/run/"

    backwards = client.post(
        run, {"since": now.isoformat(), "until": (now - timedelta(hours=1)).isoformat()}, format="json"
    )
    unknown = client.post(run, {"version": 7}, format="json")
    extra = client.post(run, {"window": "yesterday"}, format="json")
    no_model = client.post("/api/v1/models/nope/drift/run/", {}, format="json")

    assert backwards.status_code == 422 and "since" in backwards.json()["error"]["details"]
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "version_not_found"
    assert extra.status_code == 422 and no_model.status_code == 404
    assert not DriftReport.objects.exists()


def test_a_model_without_production_needs_a_version(api, registered_model, contributor):
    register_version(contributor)

    r = api(contributor).post(f"/api/v1/models/{MODEL}/drift/run/", {}, format="json")

    assert r.status_code == 422 and r.json()["error"]["code"] == "nothing_deployed"


def test_reports_are_paginated_newest_first_and_filtered(
    api, referenced, contributor, viewer, django_capture_on_commit_callbacks
):
    client = api(contributor)
    run = f"/api/v1/models/{MODEL}/drift/run/"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(run, {}, format="json")  # nothing logged yet: fails
    log_traffic(referenced, customers(400, seed=21, tenure_shift=30.0))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(run, {}, format="json")
        client.post(run, {}, format="json")
    ids = list(DriftReport.objects.order_by("-created_at", "-id").values_list("id", flat=True))

    page = api(viewer).get(REPORTS + "?page_size=2").json()
    rest = api(viewer).get(page["next"]).json()

    assert page["count"] == 3 and [r["id"] for r in page["results"]] == ids[:2]
    assert [r["id"] for r in rest["results"]] == ids[2:] and rest["next"] is None
    failed = api(viewer).get(REPORTS + "?status=failed").json()
    assert [r["status"] for r in failed["results"]] == ["failed"] and "nothing to compare" in failed["results"][0][
        "error"
    ]
    major = api(viewer).get(REPORTS + "?severity=major").json()
    assert major["count"] == 2 and all(r["window"]["start"] < r["window"]["end"] for r in major["results"])
    assert api(viewer).get(REPORTS + "?status=exploded").status_code == 422
    assert api(viewer).get(REPORTS + "99999/").status_code == 404
    assert api(viewer).get("/api/v1/models/nope/drift/reports/").status_code == 404


def test_the_admin_edits_the_policy_through_the_service(client, production, admin):
    policy = monitor_policy_get(production.model)
    client.force_login(admin)
    url = f"/admin/monitoring/monitorpolicy/{policy.pk}/change/"
    form = {
        "enabled": "on",
        "schedule": "0 5 * * 1",
        "sample_size": "2000",
        "window_hours": "48",
        "thresholds": json.dumps(policy.thresholds),
        "key_features": "[]",
    }

    bad = client.post(url, {**form, "schedule": "0 5 * *"})
    ok = client.post(url, form)

    assert bad.status_code == 200 and b"5 fields" in bad.content  # the form again, with the error
    assert ok.status_code == 302, ok.content[:500]
    policy.refresh_from_db()
    assert (policy.schedule, policy.sample_size, policy.window_hours) == ("0 5 * * 1", 2000, 48)
    task = beat_row(production.model)
    assert (task.crontab.hour, task.crontab.day_of_week) == ("5", "1")
    assert Event.objects.get(type="monitor.updated").actor_name == admin.username
