"""Retraining's evidence for the release gate: "retraining trigger defined" passes with an
enabled policy that has a trainer and at least one trigger other than manual; fails when the
policy is disabled or manual-only, or when a model served or monitored here has no policy;
not_available only for a model this control plane neither serves nor monitors."""

from monitoring.gate_checks import _watched_here
from registry.gate import FAIL, NOT_AVAILABLE, PASS, CheckResult, provide_check

from .models import RetrainingPolicy
from .policies import automatic_triggers


def _trigger_text(policy: RetrainingPolicy, kind: str) -> str:
    rule = policy.triggers[kind]
    if kind == "schedule":
        return f"schedule '{rule}' (UTC)"
    if kind == "drift":
        keys = ", ".join(rule.get("key_features") or []) or "any feature"
        return f"drift (major or PSI >= {rule['psi_threshold']} on {keys}{' or the score' if rule.get('on_score') else ''})"
    if kind == "performance":
        return f"performance below its floor (>= {rule['min_labels']} labels, else the estimate)"
    return f"volume (new labelled rows >= {rule['percent']}% of the training set)"


def _trainer_text(trainer: dict) -> str:
    kind = trainer.get("kind")
    if kind == "python":
        return f"python {trainer.get('callable')}"
    if kind == "mlflow_project":
        return f"MLflow project {trainer.get('uri')} ({trainer.get('entry_point', 'main')})"
    if kind == "external":
        return f"external, via webhook channel '{trainer.get('channel')}'"
    return ""


def check_retraining_trigger_defined(version) -> CheckResult:
    model = version.model
    policy = RetrainingPolicy.objects.filter(model=model).first()
    if policy is None:
        if not _watched_here(model):
            return CheckResult(NOT_AVAILABLE, f"{model.name} is neither served nor monitored by this control plane.")
        return CheckResult(
            FAIL, f"No retraining policy for {model.name}: define one with PUT /api/v1/models/{model.name}/retraining/."
        )
    if not policy.enabled:
        return CheckResult(FAIL, f"The retraining policy of {model.name} is disabled.")
    trainer = _trainer_text(policy.trainer or {})
    if not trainer:
        return CheckResult(FAIL, f"The retraining policy of {model.name} names no trainer.")
    triggers = automatic_triggers(policy)
    if not triggers:
        return CheckResult(FAIL, f"The retraining policy of {model.name} is manual-only: add a schedule, drift, performance or volume trigger.")
    return CheckResult(
        PASS, f"Retraining by {trainer} on: {'; '.join(_trigger_text(policy, k) for k in triggers)}; "
        f"cool-down {policy.cooldown_hours} h, at most {policy.max_runs_per_day} run(s) a day."
    )


def register() -> None:
    provide_check("retraining_trigger_defined", check_retraining_trigger_defined)
