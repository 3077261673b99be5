"""Serving's evidence for the release gate. For a model this control plane does not
serve (no deployment, no logged prediction) the evidence cannot exist: not_available."""

from datetime import timedelta

from django.utils import timezone

from monitoring.models import PredictionLog
from registry.gate import FAIL, NOT_AVAILABLE, PASS, CheckResult, provide_check
from registry.models import ModelVersion
from registry.stages import PRODUCTION

from .drills import rollback_drill
from .models import CanaryAnalysis, Deployment, RollbackDrill

RECENT = timedelta(days=7)
DRILL_FRESH = timedelta(hours=1)


def _served_here(version) -> bool:
    return (
        Deployment.objects.filter(model=version.model).exists()
        or PredictionLog.objects.filter(model_name=version.model.name).exists()
    )


def _not_served(version) -> CheckResult:
    return CheckResult(NOT_AVAILABLE, f"{version.model.name} is not served by this control plane.")


def check_shadow_or_canary_first(version) -> CheckResult:
    if not _served_here(version):
        return _not_served(version)
    seen = PredictionLog.objects.filter(
        model_name=version.model.name, model_version=version.version, variant__in=["shadow", "challenger"]
    ).count()
    if not seen:
        return CheckResult(
            FAIL, f"v{version.version} has served no shadow or canary traffic: deploy it in shadow first."
        )
    analyses = CanaryAnalysis.objects.filter(deployment__challenger=version).exclude(decision="wait")
    outcome = ", ".join(f"step {a.step} ({a.challenger_weight} %): {a.decision}" for a in analyses[:10])
    return CheckResult(PASS, f"{seen} challenger predictions logged" + (f"; canary analysis: {outcome}." if outcome else "."))


def check_prediction_logs_captured(version) -> CheckResult:
    if not _served_here(version):
        return _not_served(version)
    recent = PredictionLog.objects.filter(
        model_name=version.model.name, model_version=version.version, ts__gte=timezone.now() - RECENT
    )
    latest = recent.order_by("-ts").values("features", "latency_ms", "ts").first()
    if latest is None:
        return CheckResult(FAIL, f"No prediction of v{version.version} logged in the last {RECENT.days} days.")
    if not latest["features"]:
        return CheckResult(FAIL, "Logged predictions carry no features snapshot.")
    return CheckResult(
        PASS,
        f"{recent.count()} predictions of v{version.version} in the last {RECENT.days} days, with features, "
        f"version and latency (latest {latest['ts']:%Y-%m-%d %H:%M} UTC, {latest['latency_ms']:.1f} ms).",
    )


def check_rollback_path_tested(version) -> CheckResult:
    if not _served_here(version):
        return _not_served(version)
    # Only a drill of the current Production version is evidence: a drill of a version
    # archived since proves nothing about the path a rollback would take now.
    production = ModelVersion.objects.filter(model=version.model, stage=PRODUCTION).first()
    if production is None:
        return CheckResult(NOT_AVAILABLE, "No Production version yet: there is nothing to roll back to.")
    drill = RollbackDrill.objects.filter(
        model=version.model, target=production, created_at__gte=timezone.now() - DRILL_FRESH
    ).first()
    if drill is None:
        drill = rollback_drill(version.model)
    if drill is None or drill.target_id != production.pk:
        return CheckResult(FAIL, f"No drill of the current Production version v{production.version} could run.")
    return CheckResult(
        PASS if drill.ok else FAIL,
        f"Drill of Production v{production.version}, {drill.created_at:%Y-%m-%d %H:%M} UTC: {drill.detail}",
    )


def register() -> None:
    provide_check("shadow_or_canary_first", check_shadow_or_canary_first)
    provide_check("prediction_logs_captured", check_prediction_logs_captured)
    provide_check("rollback_path_tested", check_rollback_path_tested)
