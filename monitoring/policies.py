"""Monitor policies: one per model, holding the drift schedule, the sample size, the window,
the thresholds and the key features.

A policy is created with the defaults (daily at 03:00 UTC, 10,000 rows of the last 24 hours,
the kernel's thresholds) the first time anything needs it: a reference profile uploaded for
one of the model's versions, a read of GET /monitor/, or a drift run. The gate check only
reads, so a model nobody set up monitoring for has no policy and fails the check.

Beat's copy of the schedule is a django_celery_beat PeriodicTask (task
monitoring.tasks.drift_run_scheduled, args [model id]), written in the transaction that
writes the policy. Edits made to that PeriodicTask in the admin (crontab, enabled) are
adopted by the policy the next time it is read; the task itself reads the policy when it runs.
"""

import json
import math
import zoneinfo
from numbers import Real

from celery.schedules import crontab as celery_crontab
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_beat.validators import crontab_validator

from control_plane import roles
from control_plane.errors import Forbidden, Invalid
from control_plane.journal import event_append
from registry import stages
from registry.models import RegisteredModel

from .drift.severity import DEFAULT_THRESHOLDS
from .models import MonitorPolicy

TASK_NAME = "monitoring.tasks.drift_run_scheduled"
CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")

# Performance floors. Classifier metrics (higher is better) are below their floor when the
# current value < reference - drop; error metrics (lower is better) when current > reference * (1 + rise).
PERFORMANCE_FLOORS = {"accuracy_drop": 0.05, "roc_auc_drop": 0.05, "f1_drop": 0.05, "rmse_rise": 0.1, "mae_rise": 0.1}
ORDERED = [("psi_moderate", "psi_major"), ("wasserstein_moderate", "wasserstein_major"), ("js_moderate", "js_major")]
EDITABLE = ("enabled", "schedule", "sample_size", "window_hours", "thresholds", "key_features")
SAMPLE_SIZE_RANGE = (100, 1_000_000)
WINDOW_HOURS_RANGE = (1, 24 * 90)


def default_thresholds() -> dict:
    return {**DEFAULT_THRESHOLDS, **PERFORMANCE_FLOORS}


def periodic_task_name(model: RegisteredModel | int) -> str:
    return f"drift-monitor-model-{model if isinstance(model, int) else model.pk}"


# --- Validation ---------------------------------------------------------------------------


def schedule_fields(text: str) -> dict[str, str]:
    """'m h dom mon dow' -> CrontabSchedule's fields; Invalid naming the problem."""
    parts = str(text).split()
    if len(parts) != 5:
        raise Invalid(
            f"'schedule' must have 5 fields 'minute hour day-of-month month day-of-week', got {len(parts)}.",
            details={"schedule": ["Expected 5 crontab fields."]},
        )
    try:
        crontab_validator(" ".join(parts))
        fields = dict(zip(CRON_FIELDS, parts))
        CrontabSchedule(**fields, timezone=zoneinfo.ZoneInfo("UTC")).clean_fields()
        celery_crontab(**fields)  # what beat will parse
    except (ValidationError, ValueError) as exc:
        why = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        raise Invalid(f"'schedule' is not a valid crontab: {why}", details={"schedule": [why]}) from None
    return fields


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(value) or value < 0:
        raise Invalid(
            f"Threshold '{name}' must be a number >= 0.", details={"thresholds": {name: ["Not a number >= 0."]}}
        )
    return float(value)


def thresholds_clean(current: dict, given) -> dict:
    """The current thresholds with the given keys replaced; every key known, numeric, ordered."""
    if not isinstance(given, dict):
        raise Invalid(
            "'thresholds' must be an object of name: number.", details={"thresholds": ["Expected an object."]}
        )
    known = default_thresholds()
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise Invalid(
            f"Unknown threshold(s) {unknown}; known: {sorted(known)}.",
            details={"thresholds": {name: ["Unknown threshold."] for name in unknown}},
        )
    merged = {**known, **(current or {}), **{k: _number(v, k) for k, v in given.items()}}
    for low, high in ORDERED:
        if not merged[low] < merged[high]:
            raise Invalid(
                f"Threshold '{low}' ({merged[low]}) must be below '{high}' ({merged[high]}).",
                details={"thresholds": {low: [f"Must be below {high}."]}},
            )
    if not 0 < merged["ks_pvalue"] < 1:
        raise Invalid(
            "Threshold 'ks_pvalue' must lie between 0 and 1.", details={"thresholds": {"ks_pvalue": ["Not in (0, 1)."]}}
        )
    return merged


def _in_range(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(
            f"'{name}' must be an integer from {low:,} to {high:,}.", details={name: [f"Not in {low}..{high}."]}
        )
    return value


def key_features_clean(model: RegisteredModel, value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise Invalid("'key_features' must be a list of feature names.", details={"key_features": ["Expected names."]})
    names = list(dict.fromkeys(value))
    production = model.versions.filter(stage=stages.PRODUCTION).first()
    if production is not None:
        schema = {c["name"] for c in production.input_schema or []}
        missing = [n for n in names if n not in schema]
        if missing:
            raise Invalid(
                f"Key feature(s) {missing} are not in the schema of the Production version v{production.version}.",
                details={"key_features": [f"Not in v{production.version}'s schema: {', '.join(missing)}."]},
            )
    return names


def monitor_policy_validate(policy: MonitorPolicy, fields: dict) -> dict:
    """The given fields, cleaned; Invalid (422) naming the first bad one."""
    unknown = sorted(set(fields) - set(EDITABLE))
    if unknown:
        raise Invalid(f"Unknown field(s) {unknown}.", details={name: ["Unknown field."] for name in unknown})
    clean = {}
    if "enabled" in fields:
        if not isinstance(fields["enabled"], bool):
            raise Invalid("'enabled' must be true or false.", details={"enabled": ["Must be a boolean."]})
        clean["enabled"] = fields["enabled"]
    if "schedule" in fields:
        clean["schedule"] = " ".join(schedule_fields(fields["schedule"]).values())
    if "sample_size" in fields:
        clean["sample_size"] = _in_range(fields["sample_size"], "sample_size", *SAMPLE_SIZE_RANGE)
    if "window_hours" in fields:
        clean["window_hours"] = _in_range(fields["window_hours"], "window_hours", *WINDOW_HOURS_RANGE)
    if "thresholds" in fields:
        clean["thresholds"] = thresholds_clean(policy.thresholds, fields["thresholds"])
    if "key_features" in fields:
        clean["key_features"] = key_features_clean(policy.model, fields["key_features"])
    return clean


# --- Reads and writes -----------------------------------------------------------------------


def _sync_periodic_task(policy: MonitorPolicy) -> None:
    """Write beat's PeriodicTask from the policy (call inside the policy's transaction)."""
    fields = schedule_fields(policy.schedule)
    schedule, _ = CrontabSchedule.objects.get_or_create(**fields, timezone=zoneinfo.ZoneInfo("UTC"))
    task = policy.periodic_task or PeriodicTask.objects.filter(name=periodic_task_name(policy.model)).first()
    task = task or PeriodicTask(name=periodic_task_name(policy.model))
    task.task = TASK_NAME
    task.crontab, task.interval, task.solar, task.clocked = schedule, None, None, None
    task.args, task.kwargs = json.dumps([policy.model_id]), "{}"
    task.enabled = policy.enabled
    task.one_off = False
    task.description = f"Drift monitoring of {policy.model.name} (monitoring.MonitorPolicy; edit it there)."
    task.save()
    if policy.periodic_task_id != task.pk:
        policy.periodic_task = task
        policy.save(update_fields=["periodic_task", "updated_at"])


def _crontab_text(task: PeriodicTask) -> str:
    return " ".join(str(getattr(task.crontab, name)) for name in CRON_FIELDS)


def _adopt_admin_edits(policy: MonitorPolicy) -> None:
    task = policy.periodic_task
    if task is None or task.crontab is None:
        _sync_periodic_task(policy)
        return
    text = _crontab_text(task)
    if text != policy.schedule or task.enabled != policy.enabled:
        policy.schedule, policy.enabled = text, task.enabled
        policy.save(update_fields=["schedule", "enabled", "updated_at"])


def monitor_policy_get(model: RegisteredModel) -> MonitorPolicy:
    """The model's policy, created with the defaults (and its PeriodicTask) on first use."""
    policy = MonitorPolicy.objects.select_related("model", "periodic_task__crontab").filter(model=model).first()
    if policy is not None and policy.periodic_task is not None and policy.periodic_task.crontab is not None:
        text = _crontab_text(policy.periodic_task)
        if text == policy.schedule and policy.periodic_task.enabled == policy.enabled:
            return policy
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().filter(pk=model.pk).first()
        policy, created = MonitorPolicy.objects.select_related("periodic_task__crontab").get_or_create(model=model)
        if created:
            _sync_periodic_task(policy)
        else:
            _adopt_admin_edits(policy)
    return policy


def monitor_policy_update(*, model: RegisteredModel, actor: User, **fields) -> MonitorPolicy:
    """Change the given fields (the others keep their values) and beat's PeriodicTask with them."""
    if not roles.user_can(actor, roles.MONITOR):
        raise Forbidden(roles.not_allowed(roles.MONITOR, actor), code="permission_denied")
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().filter(pk=model.pk).first()
        policy = monitor_policy_get(model)
        clean = monitor_policy_validate(policy, fields)
        changed = {k: v for k, v in clean.items() if getattr(policy, k) != v}
        for name, value in clean.items():
            setattr(policy, name, value)
        policy.updated_by = actor
        policy.full_clean(exclude=["periodic_task"])
        policy.save()
        _sync_periodic_task(policy)
        if changed:
            event_append(type="monitor.updated", actor=actor, model_name=model.name, payload={"changed": changed})
    return policy
