"""What fires a run. Drift and performance: the journal's `drift.detected` and
`performance.degraded` events, handled by this consumer (registered in apps.py) inside the
dispatch transaction, so an event is acted on exactly once. Schedule: beat's PeriodicTask
(tasks.retraining_scheduled). Volume: polled by tasks.check_volume_triggers. Manual: the
API and the page. Every firing names its evidence in the journal (retraining.triggered)."""

import logging

from django.db.models import Q

from control_plane.errors import ServiceError
from monitoring.drift_jobs import floor_broken
from monitoring.models import DriftReport, PredictionLog, ReferenceProfile
from registry import stages
from registry.models import ModelVersion, RegisteredModel

from .models import RetrainingPolicy, RetrainingRun, TriggerKind
from .services import _why_not, retraining_trigger

logger = logging.getLogger(__name__)
TRAINING_ROWS_TAG = "training.rows"


def drift_evidence(payload: dict, rule: dict) -> dict | None:
    """The drifted key features (or the score) that meet the rule, else None. A feature
    counts when its severity is major or its PSI reaches the rule's threshold."""
    threshold, keys = rule.get("psi_threshold", 0.25), set(rule.get("key_features") or [])

    def hit(item) -> bool:
        psi = item.get("psi")
        return item.get("severity") == "major" or (isinstance(psi, (int, float)) and psi >= threshold)

    features = [f for f in payload.get("features") or [] if isinstance(f, dict) and (not keys or f.get("feature") in keys)]
    hits = [{"feature": f.get("feature"), "psi": f.get("psi"), "severity": f.get("severity")} for f in features if hit(f)]
    prediction = payload.get("prediction") or {}
    score_hit = bool(rule.get("on_score", True) and isinstance(prediction, dict) and hit(prediction))
    if not hits and not score_hit:
        return None
    return {
        "drift_report": payload.get("drift_report"),
        "features": hits,
        "score": {"psi": prediction.get("psi"), "severity": prediction.get("severity")} if score_hit else None,
        "psi_threshold": threshold,
    }


def performance_evidence(payload: dict, rule: dict, estimate: dict | None = None) -> dict | None:
    """The rule met by a `performance.degraded` event: a realised metric below its floor with
    at least the rule's `min_labels` labels; with fewer, the label-free `estimate` (the
    report's estimated metrics below their floors, see report_estimate) decides."""
    basis, labelled = payload.get("judged_on"), payload.get("labelled_rows") or 0
    if not payload.get("below_floor"):
        return None
    evidence = {"drift_report": payload.get("drift_report"), "below_floor": payload["below_floor"], "judged_on": basis,
                "labelled_rows": labelled, "metrics": payload.get("metrics")}
    if basis == "realised" and labelled < rule.get("min_labels", 30):
        if not estimate or not estimate["below_floor"]:
            return None
        evidence.update(estimate, judged_on="estimated", realised_below_floor=payload["below_floor"])
    return evidence


def report_estimate(report_id) -> dict:
    """A drift report's estimated (label-free) metrics that are below their floors, judged
    with the thresholds the report used."""
    report = DriftReport.objects.filter(pk=report_id).first() if report_id else None
    performance = (report.performance or {}) if report is not None else {}
    estimated, reference = performance.get("estimated") or {}, performance.get("reference") or {}
    below = [m for m, value in estimated.items()
             if value is not None and reference.get(m) is not None
             and floor_broken(m, value, reference[m], report.thresholds or {})]
    return {"below_floor": below, "metrics": {m: {"current": estimated[m], "reference": reference[m]} for m in below}}


def on_event(event) -> None:
    kinds = {"drift.detected": TriggerKind.DRIFT, "performance.degraded": TriggerKind.PERFORMANCE}
    kind = kinds.get(event.type)
    if kind is None or not event.model_name:
        return
    policy = RetrainingPolicy.objects.select_related("model").filter(model__name=event.model_name).first()
    if policy is None or not policy.enabled or not policy.triggers.get(kind):
        return
    payload = event.payload if isinstance(event.payload, dict) else {}
    if kind == TriggerKind.DRIFT:
        evidence = drift_evidence(payload, policy.triggers[kind])
    else:
        evidence = performance_evidence(payload, policy.triggers[kind], report_estimate(payload.get("drift_report")))
    if evidence is None:
        return
    evidence["event"] = event.pk
    try:
        retraining_trigger(model=policy.model, trigger=kind, evidence=evidence)
    except ServiceError:  # never block the journal's dispatch: the run's absence is visible
        logger.exception("Retraining trigger from event %s failed", event.pk)


def training_rows(version: ModelVersion) -> int | None:
    tagged = (version.tags or {}).get(TRAINING_ROWS_TAG)
    if tagged and str(tagged).isdigit():
        return int(tagged)
    profile = ReferenceProfile.objects.filter(version=version).values_list("n_rows", flat=True).first()
    return profile or None


def volume_evidence(policy: RetrainingPolicy) -> dict | None:
    champion = ModelVersion.objects.filter(model=policy.model, stage=stages.PRODUCTION).first()
    if champion is None:
        return None
    size = training_rows(champion)
    if not size:
        return None
    new = PredictionLog.objects.filter(
        model_name=policy.model.name, ts__gte=champion.created_at
    ).filter(~Q(ground_truth=None)).count()
    percent = policy.triggers["volume"]["percent"]
    if new * 100 < percent * size:
        return None
    return {"new_labelled_rows": new, "training_rows": size, "percent": round(new * 100 / size, 2),
            "threshold_percent": percent, "since": champion.created_at.isoformat(), "production_version": champion.version}


def check_volume_triggers() -> list[int]:
    """Start a run for each enabled policy whose new labelled rows reach its share. Polled,
    so a policy that could not start a run now (active, cooling down) is skipped quietly."""
    from django.utils import timezone

    started = []
    for policy in RetrainingPolicy.objects.select_related("model").filter(enabled=True, triggers__has_key="volume"):
        if _why_not(policy, TriggerKind.VOLUME, timezone.now()) is not None:
            continue
        evidence = volume_evidence(policy)
        if evidence is not None:
            run = retraining_trigger(model=policy.model, trigger=TriggerKind.VOLUME, evidence=evidence)
            if run is not None:
                started.append(run.pk)
    return started


def scheduled(model_id: int) -> RetrainingRun | None:
    model = RegisteredModel.objects.filter(pk=model_id).first()
    policy = RetrainingPolicy.objects.filter(model=model).first() if model else None
    if policy is None:
        return None
    return retraining_trigger(model=model, trigger=TriggerKind.SCHEDULE,
                              evidence={"schedule": policy.triggers.get("schedule"), "timezone": "UTC"})
