"""Drift runs: a random sample of a window of logged traffic compared with the version's
reference profile (monitoring.drift.compare.drift_compare), with performance realised on the
labelled rows and estimated without labels; the report stored, and the journal told.

The sample is drawn by PostgreSQL (log_sample: TABLESAMPLE over the window's day partitions,
exact ORDER BY random() for a small window). Shadow rows are left out: they were never
answered to anyone.
"""

import logging
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from control_plane import roles
from control_plane.heartbeat import Heartbeat
from control_plane.errors import Forbidden, Invalid, NotFound
from control_plane.journal import event_append
from registry import stages
from registry.models import ModelVersion, RegisteredModel

from .drift.compare import drift_compare
from .drift.performance import accuracy_estimate, metrics_classifier, metrics_regressor
from .drift.severity import DEFAULT_THRESHOLDS
from .log_sample import window_sample
from .models import DriftReport, MonitorPolicy, PredictionLog, ReferenceProfile
from .policies import monitor_policy_get
from .reference import category_of, feature_kinds, json_safe, label_key, schema_ordered

logger = logging.getLogger(__name__)

VARIANTS = ("champion", "challenger", "batch", "stream")
MIN_LABELLED_ROWS = 30  # fewer labelled rows: the floors are judged on the estimate instead
HIGHER_IS_BETTER = ("accuracy", "roc_auc", "f1")
LOWER_IS_BETTER = ("rmse", "mae")
Status = DriftReport.Status


class DriftRunError(Exception):
    """A run that cannot produce a report; the message is stored as the report's error."""


def _version(model: RegisteredModel, version: ModelVersion | int | None) -> ModelVersion | None:
    if isinstance(version, ModelVersion):
        return version
    if version is not None:
        found = ModelVersion.objects.filter(model=model, version=version).first()
        if found is None:
            raise NotFound(f"Model '{model.name}' has no version {version}.", code="version_not_found")
        return found
    return ModelVersion.objects.filter(model=model, stage=stages.PRODUCTION).first()


def reference_url(model: RegisteredModel, number: int) -> str:
    return reverse("api-reference", args=[model.name, number])


def drift_report_start(
    *,
    model: RegisteredModel,
    actor: User | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    trigger: str = DriftReport.Trigger.MANUAL,
    version: ModelVersion | int | None = None,
    enqueue: bool = True,
) -> DriftReport:
    """A report in "running" for the window [since, until) (default: the policy's last
    window_hours), its Celery task enqueued after commit. A manual run of a version with
    no reference profile is refused (422); a scheduled one fails its report instead."""
    if actor is not None and not roles.user_can(actor, roles.MONITOR):
        raise Forbidden(roles.not_allowed(roles.MONITOR, actor), code="permission_denied")
    chosen = _version(model, version)
    manual = trigger == DriftReport.Trigger.MANUAL
    if manual and chosen is None:
        raise Invalid(
            f"Model '{model.name}' has no Production version; name one with 'version'.",
            code="nothing_deployed",
            details={"version": ["No Production version."]},
        )
    if manual and not ReferenceProfile.objects.filter(version=chosen).exists():
        raise Invalid(
            f"{model.name} v{chosen.version} has no reference profile: upload one with POST "
            f"{reference_url(model, chosen.version)}",
            code="reference_missing",
            details={"version": ["No reference profile."]},
        )
    policy = monitor_policy_get(model)
    until = until or timezone.now()
    since = since or until - timedelta(hours=policy.window_hours)
    if since >= until:
        raise Invalid("'since' must be before 'until'.", details={"since": ["Not before 'until'."]})
    with transaction.atomic():
        report = DriftReport.objects.create(
            model=model,
            version=chosen,
            window_start=since,
            window_end=until,
            trigger=trigger,
            requested_by=actor if actor is not None and actor.is_authenticated else None,
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue(report.pk))
    return report


def _enqueue(report_id: int) -> None:
    from .tasks import drift_run

    drift_run.delay(report_id)


# --- The run ---------------------------------------------------------------------------------


def sample_rows(report: DriftReport, limit: int) -> list[tuple]:
    """(features, prediction, ground_truth) of up to `limit` rows of the window, at random
    (log_sample: a cost that does not grow with the window on PostgreSQL)."""
    window = PredictionLog.objects.filter(
        model_name=report.model.name,
        model_version=report.version.version,
        variant__in=VARIANTS,
        ts__gte=report.window_start,
        ts__lt=report.window_end,
    )
    return window_sample(window, limit, ("features", "prediction", "ground_truth"))


def log_columns(features: list[dict], schema: list[dict], names: list[str]) -> dict[str, np.ndarray]:
    """Columns of the logged features, as the reference was profiled: numbers as floats
    (anything else NaN), categories as text (booleans "true"/"false"), null as None/NaN."""
    kinds, types = feature_kinds(schema), {c["name"]: c["type"] for c in schema}
    frame = pd.DataFrame.from_records([f if isinstance(f, dict) else {} for f in features], columns=names)
    columns = {}
    for name in names:
        if kinds.get(name) == "numeric":
            raw = frame[name].map(lambda v: np.nan if isinstance(v, bool) else v)
            columns[name] = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        else:
            columns[name] = np.array([category_of(v, types.get(name, "string")) for v in frame[name]], dtype=object)
    return columns


def log_scores(predictions: list, reference: ReferenceProfile) -> tuple[np.ndarray | None, list]:
    """(scores, predicted label keys): a binary classifier's positive-class probability (the
    log holds the probability of the predicted label), a multiclass one's confidence, or a
    regressor's value."""
    scores = np.full(len(predictions), np.nan)
    predicted: list = [None] * len(predictions)
    positive = reference.positive_label
    for i, p in enumerate(predictions):
        if isinstance(p, dict) and "label" in p:
            predicted[i] = label_key(p["label"])
            probability = p.get("probability")
            if isinstance(probability, (int, float)) and not isinstance(probability, bool):
                scores[i] = probability if positive is None or predicted[i] == positive else 1 - probability
        elif isinstance(p, (int, float)) and not isinstance(p, bool):
            scores[i] = p
            predicted[i] = label_key(p)
        elif p is not None and not isinstance(p, (dict, list)):
            predicted[i] = label_key(p)
    has_scores = reference.task and np.isfinite(scores).any()
    return (scores if has_scores else None), predicted


def floor_broken(metric: str, current: float, ref: float, thresholds: dict) -> bool:
    if metric in HIGHER_IS_BETTER:
        return current < ref - thresholds.get(f"{metric}_drop", 0.05)
    if metric in LOWER_IS_BETTER:
        return current > ref * (1 + thresholds.get(f"{metric}_rise", 0.1))
    return False


def performance_of(
    reference: ReferenceProfile, truths: list, predicted: list, scores: np.ndarray | None, thresholds: dict
) -> dict:
    """Reference metrics, realised metrics on the labelled rows, estimated accuracy (binary
    classifiers with probabilities), and the metrics below their floor: judged on the realised
    values with at least MIN_LABELLED_ROWS labels, else on the estimate."""
    profile = reference.profile
    ref_metrics = profile.get("metrics") or {}
    labelled = [i for i, t in enumerate(truths) if t is not None]
    realised = None
    if labelled and reference.task == ReferenceProfile.Task.CLASSIFIER:
        y = [label_key(truths[i]) for i in labelled]
        yhat = [predicted[i] for i in labelled]
        probabilities = scores[labelled] if scores is not None and reference.positive_label is not None else None
        if reference.positive_label is not None:
            y = np.array([float(v == reference.positive_label) for v in y])
            yhat = np.array([float(v == reference.positive_label) for v in yhat])
        realised = metrics_classifier(np.asarray(y), np.asarray(yhat), probabilities)
    elif labelled and reference.task == ReferenceProfile.Task.REGRESSOR and scores is not None:
        y = pd.to_numeric(pd.Series([truths[i] for i in labelled], dtype=object), errors="coerce").to_numpy(float)
        ok = np.isfinite(y) & np.isfinite(scores[labelled])
        realised = metrics_regressor(y[ok], scores[labelled][ok]) if ok.any() else None
    estimated = None
    calibration = profile.get("calibration")
    if calibration and scores is not None and reference.positive_label is not None:
        accuracy = accuracy_estimate(scores, calibration)
        estimated = {"accuracy": accuracy} if accuracy is not None else None
    judged, basis = None, None
    if realised is not None and len(labelled) >= MIN_LABELLED_ROWS:
        judged, basis = realised, "realised"
    elif estimated is not None:
        judged, basis = estimated, "estimated"
    below = []
    for metric, current in (judged or {}).items():
        ref = ref_metrics.get(metric)
        if current is not None and ref is not None and floor_broken(metric, current, ref, thresholds):
            below.append(metric)
    return {
        "reference": ref_metrics,
        "realised": realised,
        "estimated": estimated,
        "labelled_rows": len(labelled),
        "judged_on": basis,
        "below_floor": below,
    }


def _compute(report: DriftReport, policy: MonitorPolicy) -> dict:
    model = report.model
    if report.version is None:
        raise DriftRunError(f"Model '{model.name}' has no Production version to check for drift.")
    number = report.version.version
    reference = ReferenceProfile.objects.filter(version=report.version).first()
    if reference is None:
        raise DriftRunError(
            f"{model.name} v{number} has no reference profile: upload one with POST {reference_url(model, number)}"
        )
    rows = sample_rows(report, policy.sample_size)
    if not rows:
        raise DriftRunError(
            f"No prediction of {model.name} v{number} was logged between {report.window_start:%Y-%m-%d %H:%M} and "
            f"{report.window_end:%Y-%m-%d %H:%M} UTC (variants {', '.join(VARIANTS)}): nothing to compare."
        )
    features, predictions, truths = zip(*rows)
    schema = report.version.input_schema or []
    profile = schema_ordered(reference.profile, schema)
    columns = log_columns(list(features), schema, list(profile["features"]))
    scores, predicted = log_scores(list(predictions), reference)
    thresholds = {**DEFAULT_THRESHOLDS, **{k: v for k, v in policy.thresholds.items() if k in DEFAULT_THRESHOLDS}}
    compared = drift_compare(profile, columns, thresholds=thresholds, scores=scores)
    performance = performance_of(reference, list(truths), predicted, scores, policy.thresholds)
    return {
        "sample_size": len(rows),
        "compared": compared,
        "performance": performance,
        "key_features": policy.key_features,
        "thresholds": {**policy.thresholds, **thresholds},
    }


def _fail(report_id: int, message: str) -> None:
    DriftReport.objects.filter(pk=report_id, status=Status.RUNNING).update(
        status=Status.FAILED, error=message[:10000], finished_at=timezone.now()
    )


def _window(report: DriftReport) -> dict:
    return {"start": report.window_start.isoformat(), "end": report.window_end.isoformat()}


def _journal(report: DriftReport, key_features: list[str]) -> None:
    actor, name = report.requested_by, report.model.name
    number = report.version.version if report.version else None
    base = {
        "drift_report": report.pk,
        "trigger": report.trigger,
        "window": _window(report),
        "sample_size": report.sample_size,
    }
    if report.severity == DriftReport.Severity.MAJOR:
        drifted = [
            {"feature": f["feature"], "kind": f["kind"], "psi": f["psi"], "severity": f["severity"]}
            for f in report.features
            if f["severity"] != DriftReport.Severity.NONE
        ]
        prediction = report.prediction or {}
        event_append(
            type="drift.detected",
            actor=actor,
            model_name=name,
            version=number,
            payload={
                **base,
                "severity": report.severity,
                "features": drifted,
                "key_features_drifted": [f["feature"] for f in drifted if f["feature"] in key_features],
                "prediction": {"psi": prediction.get("psi"), "severity": prediction.get("severity")}
                if prediction
                else None,
            },
        )
    performance = report.performance or {}
    if performance.get("below_floor"):
        basis = performance.get("judged_on")
        current = performance.get(basis) or {}
        event_append(
            type="performance.degraded",
            actor=actor,
            model_name=name,
            version=number,
            payload={
                **base,
                "below_floor": performance["below_floor"],
                "judged_on": basis,
                "labelled_rows": performance.get("labelled_rows"),
                "metrics": {
                    m: {"current": current.get(m), "reference": performance["reference"].get(m)}
                    for m in performance["below_floor"]
                },
            },
        )


ABANDONED_AFTER = timedelta(hours=1)


def drift_reports_fail_abandoned() -> int:
    """Fail the reports still "running" an hour after they were created: their worker died
    mid-run (a manual run is retried by Celery; a scheduled one runs inside the beat task)."""
    return DriftReport.objects.filter(status=Status.RUNNING, created_at__lt=timezone.now() - ABANDONED_AFTER).update(
        status=Status.FAILED,
        error="Abandoned: the worker running this report stopped before finishing it.",
        finished_at=timezone.now(),
    )


def drift_reports_fail_stale(*, now=None) -> int:
    """Fail the reports whose worker stopped beating (killed mid-run) within minutes; a
    report never started (no heartbeat yet) is left to drift_reports_fail_abandoned."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS)
    return DriftReport.objects.filter(status=Status.RUNNING, heartbeat_at__lt=cutoff).update(
        status=Status.FAILED,
        error="Worker lost: the worker computing this report stopped beating before finishing it.",
        finished_at=timezone.now(),
    )


def drift_report_execute(*, report_id: int) -> DriftReport | None:
    """Run a report left in "running" (a finished one is returned as it is: safe to run twice)."""
    report = DriftReport.objects.select_related("model", "version", "requested_by").filter(pk=report_id).first()
    if report is None or report.status != Status.RUNNING:
        return report
    DriftReport.objects.filter(pk=report_id, status=Status.RUNNING).update(heartbeat_at=timezone.now())
    try:
        with Heartbeat(DriftReport, report_id):
            result = _compute(report, monitor_policy_get(report.model))
    except DriftRunError as exc:
        _fail(report_id, str(exc))
        return DriftReport.objects.get(pk=report_id)
    except Exception as exc:  # noqa: BLE001 - a run that breaks is a failed report, not a lost one
        logger.exception("Drift report %s failed", report_id)
        _fail(report_id, f"{type(exc).__name__}: {exc}")
        return DriftReport.objects.get(pk=report_id)
    compared = json_safe(result["compared"])
    with transaction.atomic():
        report = (
            DriftReport.objects.select_for_update(of=("self",))
            .select_related("model", "version", "requested_by")
            .get(pk=report_id)
        )
        if report.status != Status.RUNNING:
            return report
        report.status, report.finished_at = Status.SUCCEEDED, timezone.now()
        report.sample_size = result["sample_size"]
        report.features, report.prediction = compared["features"], compared["prediction"]
        report.severity, report.drifted_features = compared["severity"], compared["drifted_features"]
        report.performance = json_safe(result["performance"])
        report.thresholds = result["thresholds"]
        report.save()
        _journal(report, result["key_features"])
    return report
