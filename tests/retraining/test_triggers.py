"""What fires a run: a real drift report with major drift (through the journal), the
schedule (skipped when nothing drifted), performance, volume; and what holds two triggers
at once (one active run, the cool-down), with the suppression journaled."""

import threading
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from django.db import connection
from django.utils import timezone

from control_plane.models import Event
from monitoring.drift_jobs import drift_report_start
from monitoring.models import DriftReport
from monitoring.reference import reference_profile_create
from retraining import services as retraining_services
from retraining.models import RetrainingRun
from retraining.services import retraining_trigger
from retraining.triggers import check_volume_triggers, drift_evidence, performance_evidence
from tests.monitoring.drift_support import csv_bytes
from tests.monitoring.drift_support import customers as reference_customers

from .conftest import customers, log_labelled, make_policy


@pytest.mark.django_db
def test_major_drift_fires_a_run_that_trains_evaluates_and_stages(champion, contributor, inline):
    reference_profile_create(version=champion, actor=contributor, data=csv_bytes(reference_customers(3000)), filename="ref.csv")
    shifted = customers(1500, seed=5)
    shifted["tenure_months"] += 45  # far outside the reference's 0-60
    log_labelled(champion, shifted)
    make_policy(champion.model, contributor, triggers={"drift": {"psi_threshold": 0.25, "key_features": ["tenure_months"]}})
    report = inline(drift_report_start, model=champion.model, actor=contributor)
    report.refresh_from_db()
    assert report.status == "succeeded" and report.severity == "major"
    run = RetrainingRun.objects.get(model=champion.model)
    assert run.trigger == "drift" and run.evidence["drift_report"] == report.pk
    assert [f["feature"] for f in run.evidence["features"]] == ["tenure_months"]
    triggered = Event.objects.get(type="retraining.triggered")
    assert triggered.payload["evidence"]["drift_report"] == report.pk
    assert run.status == "succeeded" and run.verdict == "staged", run.error
    assert run.version.stage == "staging" and run.promotion_request.status == "pending"


def test_drift_rule_reads_key_features_and_the_score():
    payload = {"drift_report": 7, "features": [{"feature": "a", "psi": 0.4, "severity": "major"},
                                               {"feature": "b", "psi": 0.12, "severity": "moderate"}],
               "prediction": {"psi": 0.05, "severity": "none"}}
    assert drift_evidence(payload, {"psi_threshold": 0.25, "key_features": ["b"], "on_score": True}) is None
    assert drift_evidence(payload, {"psi_threshold": 0.1, "key_features": ["b"]})["features"][0]["feature"] == "b"
    assert drift_evidence(payload, {"psi_threshold": 0.25})["features"] == [{"feature": "a", "psi": 0.4, "severity": "major"}]
    payload["prediction"] = {"psi": 0.3, "severity": "major"}
    assert drift_evidence(payload, {"psi_threshold": 0.25, "key_features": ["b"]})["score"]["psi"] == 0.3


def test_performance_rule_needs_its_labels_or_the_estimate():
    realised = {"below_floor": ["roc_auc"], "judged_on": "realised", "labelled_rows": 40}
    assert performance_evidence(realised, {"min_labels": 50}) is None
    assert performance_evidence(realised, {"min_labels": 30})["below_floor"] == ["roc_auc"]
    estimated = {"below_floor": ["accuracy"], "judged_on": "estimated", "labelled_rows": 0}
    assert performance_evidence(estimated, {"min_labels": 30})["judged_on"] == "estimated"


@pytest.mark.django_db
def test_schedule_trigger_skips_at_check_when_nothing_drifted(traffic, contributor, inline):
    make_policy(traffic.model, contributor, triggers={"schedule": "0 3 * * 1"})
    now = timezone.now()
    DriftReport.objects.create(
        model=traffic.model, version=traffic, status="succeeded", severity="none", window_start=now - timedelta(days=1),
        window_end=now, features=[{"feature": "tenure_months", "psi": 0.03, "severity": "none"}],
        prediction={"psi": 0.02, "severity": "none"}, performance={"below_floor": []}, finished_at=now,
    )
    from retraining.triggers import scheduled

    run = inline(scheduled, model_id=traffic.model.pk)
    run.refresh_from_db()
    assert run.status == "skipped" and run.verdict == "no_need" and run.version is None
    check = run.steps.get(name="check")
    assert check.status == "skipped" and "skipped: no need" in check.log
    assert set(run.steps.exclude(name="check").values_list("status", flat=True)) == {"skipped"}
    assert Event.objects.get(type="retraining.completed").payload["verdict"] == "no_need"


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_triggers_start_one_run_and_the_cooldown_holds(traffic, contributor, monkeypatch):
    monkeypatch.setattr(retraining_services, "_enqueue_step", lambda run_id, name: None)  # runs stay queued
    policy = make_policy(traffic.model, contributor, cooldown_hours=6)
    barrier, results = threading.Barrier(2), []

    def fire():
        try:
            barrier.wait(timeout=10)
            results.append(retraining_trigger(model=policy.model, trigger="drift", evidence={"drift_report": 1}))
        finally:
            connection.close()

    threads = [threading.Thread(target=fire) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len([r for r in results if r is not None]) == 1 and len(results) == 2
    assert RetrainingRun.objects.filter(model=policy.model).count() == 1
    suppressed = Event.objects.get(type="retraining.suppressed")
    assert suppressed.payload["code"] == "run_active" and suppressed.payload["evidence"] == {"drift_report": 1}
    RetrainingRun.objects.filter(model=policy.model).update(status="succeeded", finished_at=timezone.now())
    assert retraining_trigger(model=policy.model, trigger="drift", evidence={"drift_report": 2}) is None
    latest = Event.objects.filter(type="retraining.suppressed").order_by("-id").first()
    assert latest.payload["code"] == "cooldown" and "Cooling down" in latest.payload["reason"]


@pytest.mark.django_db
def test_volume_trigger_counts_new_labelled_rows_against_the_training_set(champion, contributor, monkeypatch):
    monkeypatch.setattr(retraining_services, "_enqueue_step", lambda run_id, name: None)
    from registry import services as registry

    registry.version_tag_set(actor=contributor, model_name="churn-predictor", version=1, key="training.rows", value="1000")
    type(champion).objects.filter(pk=champion.pk).update(created_at=timezone.now() - timedelta(days=1))
    make_policy(champion.model, contributor, triggers={"volume": {"percent": 50}})
    log_labelled(champion, customers(300, seed=8), days=0.01)
    assert check_volume_triggers() == []  # 300 of 1000: 30 %
    log_labelled(champion, customers(300, seed=9), days=0.01, prefix="more")
    [run_id] = check_volume_triggers()
    run = RetrainingRun.objects.get(pk=run_id)
    assert run.trigger == "volume" and run.evidence["new_labelled_rows"] == 600 and run.evidence["percent"] == 60.0


def _monitored(champion, contributor, inline, traffic: pd.DataFrame, *, min_labels: int) -> DriftReport:
    """The champion's reference profile, `traffic` logged with labels, a performance-only
    policy, and a real drift report over the window (which journals performance.degraded).
    Only the report runs its on-commit tasks: the log's partitions must not be learnt from a
    transaction the test rolls back."""
    reference_profile_create(version=champion, actor=contributor, data=csv_bytes(reference_customers(3000)), filename="ref.csv")
    log_labelled(champion, traffic)
    make_policy(champion.model, contributor, triggers={"performance": {"min_labels": min_labels}})
    report = inline(drift_report_start, model=champion.model, actor=contributor)
    report.refresh_from_db()
    return report


@pytest.mark.django_db
def test_realised_metric_below_its_floor_with_enough_labels_fires_a_run_that_stages(champion, contributor, inline):
    # The world changed (conftest's labels): same features, the champion's realised metrics fall.
    report = _monitored(champion, contributor, inline, customers(1500, seed=5), min_labels=200)
    assert report.performance["judged_on"] == "realised" and report.performance["below_floor"]
    run = RetrainingRun.objects.get(model=champion.model)
    assert run.trigger == "performance" and run.evidence["judged_on"] == "realised"
    assert run.evidence["labelled_rows"] == report.performance["labelled_rows"] >= 200 and run.evidence["drift_report"] == report.pk
    assert set(run.evidence["below_floor"]) == set(report.performance["below_floor"])
    assert Event.objects.get(type="retraining.triggered").payload["evidence"]["below_floor"] == run.evidence["below_floor"]
    assert run.status == "succeeded" and run.verdict == "staged", run.error
    assert run.version.stage == "staging" and run.promotion_request.status == "pending"


@pytest.mark.django_db
def test_too_few_labels_for_the_rule_and_a_fine_estimate_fire_nothing(champion, contributor, inline):
    report = _monitored(champion, contributor, inline, customers(1500, seed=5), min_labels=5000)
    assert report.performance["below_floor"] and report.performance["labelled_rows"] < 5000
    assert report.performance["estimated"]["accuracy"] is not None
    assert Event.objects.filter(type="performance.degraded").exists()
    assert not RetrainingRun.objects.filter(model=champion.model).exists()  # the estimate is fine: same features


@pytest.mark.django_db
def test_too_few_labels_for_the_rule_and_an_estimate_below_its_floor_fire_a_run(champion, contributor, inline):
    # Customers on the champion's decision boundary: it is unsure of every one, so its estimate falls.
    unsure = customers(1500, seed=6)
    unsure["support_tickets"] = np.where(np.arange(1500) % 2, 4, 5)
    unsure["tenure_months"] = unsure["tenure_months"] / 60 * 10 + 6
    report = _monitored(champion, contributor, inline, unsure, min_labels=5000)
    run = RetrainingRun.objects.get(model=champion.model)
    assert run.trigger == "performance" and run.evidence["judged_on"] == "estimated"
    assert run.evidence["below_floor"] == ["accuracy"] and run.evidence["realised_below_floor"]
    estimate = run.evidence["metrics"]["accuracy"]
    assert estimate["current"] == report.performance["estimated"]["accuracy"] < estimate["reference"] - 0.05
