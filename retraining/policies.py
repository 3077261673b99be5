"""Retraining policies: validation of the trainer, triggers and evaluation, and the write
that keeps beat's PeriodicTask (task retraining.tasks.retraining_scheduled, args [model id])
in step with the policy's schedule, in the same transaction (as monitoring/policies.py)."""

import json
import math
import zoneinfo
from numbers import Real

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from control_plane import roles
from control_plane.errors import Forbidden, Invalid, NotFound
from control_plane.journal import event_append
from monitoring.policies import schedule_fields
from registry.models import RegisteredModel

from .models import RetrainingPolicy, TriggerKind

TASK_NAME = "retraining.tasks.retraining_scheduled"
TRAINER_KINDS = ("python", "mlflow_project", "external")
METRICS = ("roc_auc", "accuracy", "f1", "rmse", "mae")
AUTOMATIC_TRIGGERS = (TriggerKind.SCHEDULE, TriggerKind.DRIFT, TriggerKind.PERFORMANCE, TriggerKind.VOLUME)
EDITABLE = (
    "enabled", "trainer", "triggers", "cooldown_hours", "max_runs_per_day", "evaluation", "start_shadow",
    "window_days", "dataset_uri", "owner",
)
OWNER_NEEDS = (roles.REGISTER, roles.CHANGE_STAGE, roles.REQUEST_PROMOTION)


def default_evaluation() -> dict:
    return {"metric": "roc_auc", "min_improvement": 0.0, "holdout": 0.2, "no_need_psi": 0.1, "bootstrap": 500}


def require_monitor(actor: User | None) -> None:
    """Retraining's writes need the capability that edits monitor policies and starts drift runs."""
    if actor is None or not roles.user_can(actor, roles.MONITOR):
        raise Forbidden(f"Your role does not allow '{roles.MONITOR}'.", code="permission_denied")


def periodic_task_name(model: RegisteredModel | int) -> str:
    return f"retraining-model-{model if isinstance(model, int) else model.pk}"


def _bad(field: str, message: str, detail=None):
    return Invalid(message, details={field: detail if detail is not None else [message]})


def _number(value, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(value) or not low <= value <= high:
        raise _bad(field, f"'{field}' must be a number from {low} to {high}.")
    return float(value)


def _integer(value, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(field, f"'{field}' must be an integer from {low} to {high}.")
    return value


def _module_allowed(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in settings.RETRAINING_TRAINER_MODULES)


def trainer_clean(value) -> dict:
    if not isinstance(value, dict) or value.get("kind") not in TRAINER_KINDS:
        raise _bad("trainer", f"'trainer.kind' must be one of {', '.join(TRAINER_KINDS)}.")
    kind = value["kind"]
    allowed = {"python": {"kind", "callable"}, "mlflow_project": {"kind", "uri", "entry_point", "parameters"},
               "external": {"kind", "channel", "deadline_minutes"}}[kind]
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _bad("trainer", f"Unknown trainer field(s) {unknown} for kind '{kind}'.")
    if kind == "python":
        dotted = value.get("callable")
        if not isinstance(dotted, str) or "." not in dotted:
            raise _bad("trainer", "'trainer.callable' must be a dotted path 'package.module.function'.")
        module = dotted.replace(":", ".").rsplit(".", 1)[0]
        if not _module_allowed(module):
            raise _bad(
                "trainer",
                f"Module '{module}' is not in RETRAINING_TRAINER_MODULES ({', '.join(settings.RETRAINING_TRAINER_MODULES)}).",
            )
        return {"kind": kind, "callable": dotted.replace(":", ".")}
    if kind == "mlflow_project":
        from .trainers import project_path_allowed

        uri = value.get("uri")
        if not isinstance(uri, str) or not uri:
            raise _bad("trainer", "'trainer.uri' must name an MLflow project folder.")
        if not project_path_allowed(uri):
            raise _bad("trainer", f"'{uri}' is not an MLproject folder under RETRAINING_PROJECT_ROOTS.")
        parameters = value.get("parameters") or {}
        if not isinstance(parameters, dict) or not all(isinstance(v, (str, int, float)) for v in parameters.values()):
            raise _bad("trainer", "'trainer.parameters' must be an object of plain values.")
        entry = value.get("entry_point") or "main"
        if not isinstance(entry, str):
            raise _bad("trainer", "'trainer.entry_point' must be a string.")
        return {"kind": kind, "uri": uri, "entry_point": entry, "parameters": {k: str(v) for k, v in parameters.items()}}
    from notifications.models import Channel

    name = value.get("channel")
    if not isinstance(name, str) or not Channel.objects.filter(name=name, kind="webhook").exists():
        raise _bad("trainer", "'trainer.channel' must name a webhook notification channel (its URL and secret sign the request).")
    deadline = _integer(value.get("deadline_minutes", 120), "trainer.deadline_minutes", 0, 7 * 24 * 60)
    return {"kind": kind, "channel": name, "deadline_minutes": deadline}


def triggers_clean(value) -> dict:
    if not isinstance(value, dict):
        raise _bad("triggers", "'triggers' must be an object.")
    unknown = sorted(set(value) - {"schedule", "drift", "performance", "volume"})
    if unknown:
        raise _bad("triggers", f"Unknown trigger(s) {unknown}; known: schedule, drift, performance, volume.")
    clean = {}
    if value.get("schedule"):
        clean["schedule"] = " ".join(schedule_fields(value["schedule"]).values())
    drift = value.get("drift")
    if drift:
        drift = {} if drift is True else drift
        if not isinstance(drift, dict):
            raise _bad("triggers", "'triggers.drift' must be an object or true.")
        keys = drift.get("key_features", [])
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise _bad("triggers", "'triggers.drift.key_features' must be a list of names.")
        clean["drift"] = {
            "psi_threshold": _number(drift.get("psi_threshold", 0.25), "triggers.drift.psi_threshold", 0.01, 10),
            "key_features": keys,
            "on_score": bool(drift.get("on_score", True)),
        }
    performance = value.get("performance")
    if performance:
        performance = {} if performance is True else performance
        clean["performance"] = {
            "min_labels": _integer(performance.get("min_labels", 30), "triggers.performance.min_labels", 1, 10**7)
        }
    volume = value.get("volume")
    if volume:
        volume = {} if volume is True else volume
        clean["volume"] = {"percent": _number(volume.get("percent", 20.0), "triggers.volume.percent", 0.1, 10_000)}
    return clean


def evaluation_clean(current: dict, value) -> dict:
    if not isinstance(value, dict):
        raise _bad("evaluation", "'evaluation' must be an object.")
    unknown = sorted(set(value) - set(default_evaluation()))
    if unknown:
        raise _bad("evaluation", f"Unknown evaluation field(s) {unknown}.")
    merged = {**default_evaluation(), **(current or {}), **value}
    if merged["metric"] not in METRICS:
        raise _bad("evaluation", f"'evaluation.metric' must be one of {', '.join(METRICS)}.")
    merged["min_improvement"] = _number(merged["min_improvement"], "evaluation.min_improvement", -1, 1e6)
    merged["holdout"] = _number(merged["holdout"], "evaluation.holdout", 0.05, 0.9)
    merged["no_need_psi"] = _number(merged["no_need_psi"], "evaluation.no_need_psi", 0.0, 10)
    merged["bootstrap"] = _integer(merged["bootstrap"], "evaluation.bootstrap", 50, 5000)
    return merged


def owner_clean(value) -> User:
    user = User.objects.filter(username=value).first() if isinstance(value, str) else None
    if user is None:
        raise _bad("owner", f"'owner' must name a user; '{value}' does not exist.")
    missing = [c for c in OWNER_NEEDS if not roles.user_can(user, c)]
    if missing:
        raise _bad("owner", f"'{value}' cannot own a retraining policy: their role lacks {', '.join(missing)}.")
    return user


def policy_validate(policy: RetrainingPolicy | None, fields: dict) -> dict:
    unknown = sorted(set(fields) - set(EDITABLE))
    if unknown:
        raise Invalid(f"Unknown field(s) {unknown}.", details={name: ["Unknown field."] for name in unknown})
    clean = {}
    for name in ("enabled", "start_shadow"):
        if name in fields:
            if not isinstance(fields[name], bool):
                raise _bad(name, f"'{name}' must be true or false.")
            clean[name] = fields[name]
    if "trainer" in fields:
        clean["trainer"] = trainer_clean(fields["trainer"])
    if "triggers" in fields:
        clean["triggers"] = triggers_clean(fields["triggers"])
    if "evaluation" in fields:
        clean["evaluation"] = evaluation_clean(policy.evaluation if policy else {}, fields["evaluation"])
    if "cooldown_hours" in fields:
        clean["cooldown_hours"] = _integer(fields["cooldown_hours"], "cooldown_hours", 0, 24 * 30)
    if "max_runs_per_day" in fields:
        clean["max_runs_per_day"] = _integer(fields["max_runs_per_day"], "max_runs_per_day", 1, 100)
    if "window_days" in fields:
        clean["window_days"] = _integer(fields["window_days"], "window_days", 1, 365)
    if "dataset_uri" in fields:
        if not isinstance(fields["dataset_uri"], str) or len(fields["dataset_uri"]) > 1000:
            raise _bad("dataset_uri", "'dataset_uri' must be a string of at most 1000 characters.")
        clean["dataset_uri"] = fields["dataset_uri"]
    if "owner" in fields:
        clean["owner"] = owner_clean(fields["owner"])
    if policy is None and "trainer" not in clean:
        raise _bad("trainer", "A new retraining policy needs a 'trainer'.")
    return clean


def _sync_periodic_task(policy: RetrainingPolicy) -> None:
    schedule = policy.triggers.get("schedule")
    task = policy.periodic_task or PeriodicTask.objects.filter(name=periodic_task_name(policy.model)).first()
    if not schedule:
        if task is not None:
            task.enabled = False
            task.save(update_fields=["enabled"])
        return
    crontab, _ = CrontabSchedule.objects.get_or_create(
        **schedule_fields(schedule), timezone=zoneinfo.ZoneInfo("UTC")
    )
    task = task or PeriodicTask(name=periodic_task_name(policy.model))
    task.task = TASK_NAME
    task.crontab, task.interval, task.solar, task.clocked = crontab, None, None, None
    task.args, task.kwargs, task.one_off = json.dumps([policy.model_id]), "{}", False
    task.enabled = policy.enabled
    task.description = f"Scheduled retraining of {policy.model.name} (retraining.RetrainingPolicy; edit it there)."
    task.save()
    if policy.periodic_task_id != task.pk:
        policy.periodic_task = task
        policy.save(update_fields=["periodic_task", "updated_at"])


def _public(value):
    return value.username if isinstance(value, User) else value


def retraining_policy_put(*, model: RegisteredModel, actor: User, **fields) -> RetrainingPolicy:
    """Create or change the model's policy (fields left out keep their values; a new policy
    needs a trainer, its owner defaults to the actor) and beat's PeriodicTask with it."""
    require_monitor(actor)
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().filter(pk=model.pk).first()
        policy = RetrainingPolicy.objects.select_for_update().filter(model=model).first()
        clean = policy_validate(policy, fields)
        created = policy is None
        if created:
            owner = clean.pop("owner", None) or owner_clean(actor.username)
            policy = RetrainingPolicy(model=model, owner=owner, evaluation=default_evaluation())
        changed = {k: _public(v) for k, v in clean.items() if getattr(policy, k, None) != v}
        for name, value in clean.items():
            setattr(policy, name, value)
        policy.updated_by = actor
        policy.save()
        _sync_periodic_task(policy)
        if changed or created:
            event_append(
                type="retraining.policy_updated",
                actor=actor,
                model_name=model.name,
                payload={"created": created, "changed": sorted(changed), "trainer": policy.trainer.get("kind")},
            )
    return policy


def retraining_policy_get(model: RegisteredModel) -> RetrainingPolicy:
    policy = RetrainingPolicy.objects.select_related("model", "owner", "periodic_task").filter(model=model).first()
    if policy is None:
        raise NotFound(
            f"Model '{model.name}' has no retraining policy; create one with PUT /api/v1/models/{model.name}/retraining/.",
            code="no_retraining_policy",
        )
    return policy


def automatic_triggers(policy: RetrainingPolicy) -> list[str]:
    return [kind for kind in AUTOMATIC_TRIGGERS if policy.triggers.get(kind)]
