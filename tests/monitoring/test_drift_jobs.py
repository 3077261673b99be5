"""Drift runs on logged traffic: a known shift flagged, journal events, performance floors,
failures with clear errors, the scheduled task and the release gate's check."""

from datetime import timedelta

import pytest
from django.utils import timezone

from control_plane.models import Event
from monitoring.drift_jobs import drift_report_execute, drift_report_start
from monitoring.gate_checks import check_drift_detection_scheduled
from monitoring.models import DriftReport, MonitorPolicy
from monitoring.policies import monitor_policy_update
from monitoring.tasks import drift_run_scheduled
from registry.models import ModelVersion

from . import drift_support
from .drift_support import MODEL, customers, log_traffic

pytestmark = pytest.mark.django_db
# Fixtures (from drift_support, shared by the drift test modules)
drift_settings = drift_support.drift_settings
saved_model = drift_support.saved_model
production = drift_support.production
referenced = drift_support.referenced
RUN = f"/api/v1/models/{MODEL}/drift/run/"


def run_now(client, capture, body=None):
    with capture(execute=True):
        r = client.post(RUN, body or {}, format="json")
    assert r.status_code == 202, r.json()
    return r, client.get(r["Location"]).json()


def test_a_shift_in_one_feature_flags_that_feature_only(
    api, referenced, contributor, viewer, django_capture_on_commit_callbacks
):
    log_traffic(referenced, customers(3000, seed=3, tenure_shift=25.0))  # seed 7 happens to give spend KS p=0.0006

    r, report = run_now(api(contributor), django_capture_on_commit_callbacks)

    assert r.json()["status"] == "running" and r["Location"].endswith(f"/drift/reports/{r.json()['id']}/")
    assert report["status"] == "succeeded", report["error"]
    assert report["sample_size"] == 3000 and report["trigger"] == "manual" and report["version"] == 1
    by_name = {f["feature"]: f for f in report["features"]}
    assert [f["feature"] for f in report["features"]] == ["tenure_months", "monthly_spend", "support_tickets"]
    assert by_name["tenure_months"]["severity"] == "major" and by_name["tenure_months"]["psi"] > 0.25
    assert by_name["monthly_spend"]["severity"] == by_name["support_tickets"]["severity"] == "none"
    assert by_name["monthly_spend"]["psi"] < 0.1 and by_name["tenure_months"]["ks_pvalue"] < 1e-6
    assert report["drifted_features"] == ["tenure_months"] and report["severity"] == "major"
    assert report["prediction"]["feature"] == "prediction" and report["prediction"]["psi"] is not None
    assert len(by_name["tenure_months"]["histogram"]["current"]) == 10
    assert report["performance"]["reference"]["accuracy"] > 0.8 and report["performance"]["labelled_rows"] == 0
    assert report["performance"]["estimated"]["accuracy"] is not None and report["performance"]["realised"] is None
    events = Event.objects.filter(type="drift.detected")
    assert events.count() == 1
    payload = events.get().payload
    assert payload["drift_report"] == report["id"] and payload["severity"] == "major"
    assert [f["feature"] for f in payload["features"]] == ["tenure_months"]
    assert payload["features"][0]["psi"] == pytest.approx(by_name["tenure_months"]["psi"])
    assert (
        events.get().model_name == MODEL
        and events.get().version == 1
        and events.get().actor_name == contributor.username
    )
    assert api(viewer).get(f"/api/v1/models/{MODEL}/drift/reports/{report['id']}/").json() == report


def test_unshifted_traffic_is_quiet(api, referenced, contributor, django_capture_on_commit_callbacks):
    log_traffic(referenced, customers(3000, seed=11))

    _, report = run_now(api(contributor), django_capture_on_commit_callbacks)

    assert report["status"] == "succeeded" and report["severity"] == "none", report["features"]
    assert report["drifted_features"] == [] and report["performance"]["below_floor"] == []
    assert not Event.objects.filter(type__in=["drift.detected", "performance.degraded"]).exists()


def test_labels_below_the_floor_journal_performance_degraded(
    api, referenced, contributor, django_capture_on_commit_callbacks
):
    frame = customers(1000, seed=5)
    log_traffic(referenced, frame, truths=1 - frame["label"].to_numpy())  # the world turned around

    _, report = run_now(api(contributor), django_capture_on_commit_callbacks)

    performance = report["performance"]
    assert performance["labelled_rows"] == 1000 and performance["judged_on"] == "realised"
    assert performance["realised"]["accuracy"] < 0.3 < performance["reference"]["accuracy"]
    assert "accuracy" in performance["below_floor"] and "f1" in performance["below_floor"]
    assert report["severity"] == "none"  # the features did not move: concept drift only
    event = Event.objects.get(type="performance.degraded")
    assert event.payload["drift_report"] == report["id"] and event.payload["judged_on"] == "realised"
    assert event.payload["metrics"]["accuracy"]["current"] == pytest.approx(performance["realised"]["accuracy"])
    assert not Event.objects.filter(type="drift.detected").exists()


def test_shadow_rows_and_rows_outside_the_window_are_left_out(
    api, referenced, contributor, django_capture_on_commit_callbacks
):
    log_traffic(referenced, customers(200, seed=2), variant="shadow", prefix="s")
    log_traffic(referenced, customers(200, seed=3), prefix="old", ts=timezone.now() - timedelta(days=3))
    log_traffic(referenced, customers(150, seed=4), variant="batch", prefix="b")

    _, report = run_now(api(contributor), django_capture_on_commit_callbacks)
    assert report["status"] == "succeeded" and report["sample_size"] == 150

    since = (timezone.now() - timedelta(days=10)).isoformat()
    until = (timezone.now() - timedelta(days=5)).isoformat()
    _, empty = run_now(api(contributor), django_capture_on_commit_callbacks, {"since": since, "until": until})
    assert empty["status"] == "failed" and empty["severity"] is None
    assert "No prediction of churn-predictor v1 was logged between" in empty["error"]


def test_sample_size_caps_the_rows_compared(api, referenced, contributor, django_capture_on_commit_callbacks):
    log_traffic(referenced, customers(600, seed=8))
    monitor_policy_update(model=referenced.model, actor=contributor, sample_size=250)

    _, report = run_now(api(contributor), django_capture_on_commit_callbacks)

    assert report["sample_size"] == 250


def test_no_reference_profile_is_422_at_start_and_a_failed_report_when_scheduled(api, production, contributor):
    r = api(contributor).post(RUN, {}, format="json")

    assert r.status_code == 422 and r.json()["error"]["code"] == "reference_missing"
    assert "/versions/1/reference/" in r.json()["error"]["message"]
    assert not DriftReport.objects.exists()

    result = drift_run_scheduled(production.model.pk)

    report = DriftReport.objects.get()
    assert result["status"] == report.status == "failed" and report.trigger == "schedule"
    assert "v1 has no reference profile" in report.error


def test_the_scheduled_task_reads_the_policy_when_it_runs(referenced, contributor):
    log_traffic(referenced, customers(500, seed=12))
    model = referenced.model
    monitor_policy_update(model=model, actor=contributor, enabled=False)

    assert drift_run_scheduled(model.pk) == {"model": model.pk, "skipped": "policy disabled"}
    assert not DriftReport.objects.exists()

    monitor_policy_update(model=model, actor=contributor, enabled=True)
    result = drift_run_scheduled(model.pk)

    report = DriftReport.objects.get()
    assert result == {"model": model.pk, "report": report.pk, "status": "succeeded", "severity": report.severity}
    assert report.trigger == "schedule" and report.requested_by is None and report.sample_size == 500
    assert report.window_end - report.window_start == timedelta(hours=24)
    assert drift_run_scheduled(987654) == {"model": 987654, "skipped": "model deleted"}


def test_a_report_left_running_by_a_dead_worker_is_failed_by_the_next_scheduled_run(referenced, contributor):
    log_traffic(referenced, customers(300, seed=14))
    stale = drift_report_start(model=referenced.model, actor=contributor, enqueue=False)
    fresh = drift_report_start(model=referenced.model, actor=contributor, enqueue=False)
    DriftReport.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(hours=2))

    drift_run_scheduled(referenced.model.pk)

    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == "failed" and stale.error.startswith("Abandoned") and stale.finished_at is not None
    assert fresh.status == "running"  # under an hour old: its worker may still be at it


def test_a_report_records_the_thresholds_it_judged_with(referenced, contributor):
    log_traffic(referenced, customers(300, seed=15))
    monitor_policy_update(model=referenced.model, actor=contributor, thresholds={"psi_moderate": 0.12})
    report = drift_report_start(model=referenced.model, actor=contributor, enqueue=False)

    report = drift_report_execute(report_id=report.pk)

    assert report.thresholds["psi_moderate"] == 0.12 and report.thresholds["psi_major"] == 0.25


def test_running_a_report_twice_changes_nothing(referenced, contributor):
    log_traffic(referenced, customers(300, seed=13, tenure_shift=30.0))
    report = drift_report_start(model=referenced.model, actor=contributor, enqueue=False)

    first = drift_report_execute(report_id=report.pk)
    again = drift_report_execute(report_id=report.pk)

    assert first.status == again.status == "succeeded" and again.finished_at == first.finished_at
    assert Event.objects.filter(type="drift.detected").count() == 1


def gate(version) -> tuple[str, str]:
    result = check_drift_detection_scheduled(ModelVersion.objects.get(pk=version.pk))
    return result.status, result.evidence


def test_gate_check_needs_an_enabled_schedule_and_a_successful_run(
    api, production, contributor, django_capture_on_commit_callbacks
):
    assert gate(production)[0] == "not_available"  # not served, not monitored: nothing to watch
    log_traffic(production, customers(400, seed=14))
    status, evidence = gate(production)
    assert status == "fail" and "No monitor policy" in evidence

    from monitoring.reference import reference_profile_create
    from tests.monitoring.drift_support import csv_bytes

    reference_profile_create(version=production, actor=contributor, data=csv_bytes(customers(2000)), filename="r.csv")
    status, evidence = gate(production)
    assert status == "fail" and "none has succeeded yet" in evidence and "'0 3 * * *'" in evidence

    run_now(api(contributor), django_capture_on_commit_callbacks)
    report = DriftReport.objects.get()
    status, evidence = gate(production)
    assert status == "pass", evidence
    assert "'0 3 * * *'" in evidence and f"#{report.pk}" in evidence and f"severity {report.severity}" in evidence

    monitor_policy_update(model=production.model, actor=contributor, enabled=False)
    status, evidence = gate(production)
    assert status == "fail" and "disabled" in evidence
    assert MonitorPolicy.objects.get().periodic_task.enabled is False
