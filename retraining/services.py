"""Retraining runs and their steps: every write. A trigger locks the model's policy row, so
two triggers at once are serialised there: the second sees the first's run (one active run
per model, also a partial unique index), the cool-down and the day's count. An automatic
trigger that is suppressed journals why; a manual one answers 409 saying why."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from control_plane.errors import Conflict, Invalid, NotFound
from control_plane.journal import event_append
from registry import stages
from registry.models import ModelVersion, RegisteredModel

from .models import STEP_NAMES, RetrainingPolicy, RetrainingRun, RetrainingStep, TriggerKind
from .policies import require_monitor

Run, Step = RetrainingRun.Status, RetrainingStep.Status


def _enqueue_step(run_id: int, name: str) -> None:
    from .tasks import run_step

    transaction.on_commit(lambda: run_step.delay(run_id, name))


def _lock_policy(model: RegisteredModel) -> RetrainingPolicy | None:
    return RetrainingPolicy.objects.select_for_update().select_related("owner").filter(model=model).first()


def _why_not(policy: RetrainingPolicy, trigger: str, now) -> tuple[str, str] | None:
    """(code, reason) when a run may not start now, else None."""
    active = RetrainingRun.objects.filter(model=policy.model, status__in=RetrainingRun.ACTIVE).first()
    if active is not None:
        return "run_active", f"Run #{active.pk} of {policy.model.name} is still {active.status}."
    if trigger != TriggerKind.MANUAL:
        if not policy.enabled:
            return "policy_disabled", f"The retraining policy of {policy.model.name} is disabled."
        if not policy.triggers.get(trigger):
            return "trigger_not_in_policy", f"The policy of {policy.model.name} has no '{trigger}' trigger."
        last = (
            RetrainingRun.objects.filter(model=policy.model, status__in=(Run.SUCCEEDED, Run.FAILED))
            .exclude(finished_at=None)
            .order_by("-finished_at")
            .first()
        )
        if last is not None and last.finished_at > now - timedelta(hours=policy.cooldown_hours):
            until = last.finished_at + timedelta(hours=policy.cooldown_hours)
            return "cooldown", f"Cooling down after run #{last.pk} until {until:%Y-%m-%d %H:%M} UTC."
    today = RetrainingRun.objects.filter(model=policy.model, created_at__gte=now - timedelta(days=1)).exclude(
        status=Run.SKIPPED
    )
    if today.count() >= policy.max_runs_per_day:
        return "daily_limit", f"{policy.max_runs_per_day} run(s) in the last 24 h already (max_runs_per_day)."
    return None


def retraining_trigger(
    *,
    model: RegisteredModel,
    trigger: str,
    evidence: dict | None = None,
    actor: User | None = None,
    reason: str = "",
) -> RetrainingRun | None:
    """Start a run (202) or say why not. Manual: 422 without a policy, 409 when a run is
    active or the day's maximum is reached. Automatic: None, with `retraining.suppressed`
    in the journal naming the reason and the evidence."""
    if trigger not in TriggerKind.values:
        raise Invalid(f"Unknown trigger '{trigger}'.", details={"trigger": ["Unknown trigger."]})
    manual = trigger == TriggerKind.MANUAL
    if manual:
        require_monitor(actor)
    evidence = evidence or {}
    now = timezone.now()
    try:
        with transaction.atomic():
            policy = _lock_policy(model)
            if policy is None:
                if manual:
                    raise Invalid(
                        f"Model '{model.name}' has no retraining policy: PUT /api/v1/models/{model.name}/retraining/ first.",
                        code="no_retraining_policy",
                    )
                return None
            refused = _why_not(policy, trigger, now)
            if refused is not None:
                code, why = refused
                if manual:
                    raise Conflict(why, code=code)
                event_append(
                    type="retraining.suppressed",
                    actor=actor,
                    model_name=model.name,
                    payload={"trigger": trigger, "code": code, "reason": why, "evidence": evidence},
                )
                return None
            champion = ModelVersion.objects.filter(model=model, stage=stages.PRODUCTION).first()
            run = RetrainingRun.objects.create(
                model=model,
                policy=policy,
                status=Run.QUEUED,
                trigger=trigger,
                evidence=evidence,
                reason=reason,
                requested_by=actor if actor is not None and actor.is_authenticated else None,
                champion=champion,
                window_start=now - timedelta(days=policy.window_days),
                window_end=now,
            )
            RetrainingStep.objects.bulk_create(
                [RetrainingStep(run=run, name=name, position=i) for i, name in enumerate(STEP_NAMES)]
            )
            event_append(
                type="retraining.triggered",
                actor=actor,
                model_name=model.name,
                version=champion.version if champion else None,
                payload={"run": run.pk, "trigger": trigger, "evidence": evidence, "reason": reason},
            )
            _enqueue_step(run.pk, STEP_NAMES[0])
    except IntegrityError:  # the partial unique index: another run became active meanwhile
        if manual:
            raise Conflict(f"A run of {model.name} is already active.", code="run_active") from None
        return None
    return run


def _lock_run(run_id: int) -> RetrainingRun:
    run = RetrainingRun.objects.select_for_update(of=("self",)).select_related("model").filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"Retraining run {run_id} does not exist.", code="run_not_found")
    return run


def step_begin(*, run_id: int, name: str) -> RetrainingStep | str | None:
    """Mark the step running (attempt + 1) and return it; "done" when it finished already
    (a duplicate delivery: the caller moves on), None when there is nothing to do."""
    with transaction.atomic():
        run = _lock_run(run_id)
        if run.status in RetrainingRun.FINISHED:
            return None
        step = RetrainingStep.objects.select_for_update().get(run=run, name=name)
        if step.status in (Step.SUCCEEDED, Step.SKIPPED):
            return "done"
        if step.status != Step.PENDING:
            return None  # running under another worker (the sweep handles a dead one), or failed
        now = timezone.now()
        step.status, step.attempt, step.started_at, step.finished_at = Step.RUNNING, step.attempt + 1, now, None
        step.heartbeat_at = now
        step.save()
        if run.status == Run.QUEUED:
            run.status = Run.RUNNING
            run.save(update_fields=["status"])
        step.run = run
        return step


def _next_name(name: str) -> str | None:
    i = STEP_NAMES.index(name)
    return STEP_NAMES[i + 1] if i + 1 < len(STEP_NAMES) else None


def step_succeed(*, step_id: int, output: dict, log: str = "", run_fields: dict | None = None) -> RetrainingRun:
    """Record a finished step, write what it found on the run, and queue the next step."""
    with transaction.atomic():
        step = RetrainingStep.objects.select_related("run").get(pk=step_id)
        run = _lock_run(step.run_id)
        step = RetrainingStep.objects.select_for_update().get(pk=step_id)
        if run.status in RetrainingRun.FINISHED or step.status != Step.RUNNING:
            return run  # cancelled meanwhile, or taken over after a lost heartbeat
        step.status, step.finished_at, step.output, step.log = Step.SUCCEEDED, timezone.now(), output, log[-20000:]
        step.save()
        for name, value in (run_fields or {}).items():
            setattr(run, name, value)
        if run_fields:
            run.save(update_fields=list(run_fields))
        following = _next_name(step.name)
        if following is not None:
            _enqueue_step(run.pk, following)
        return run


def run_finish(*, run_id: int, verdict: str, status: str = Run.SUCCEEDED) -> RetrainingRun:
    """The notify step: close the run and tell the channels (`retraining.completed`)."""
    with transaction.atomic():
        run = _lock_run(run_id)
        if run.status in RetrainingRun.FINISHED:
            return run
        run.status, run.verdict, run.finished_at = status, verdict, timezone.now()
        run.save(update_fields=["status", "verdict", "finished_at"])
        RetrainingStep.objects.filter(run=run, status=Step.PENDING).update(status=Step.SKIPPED)
        evaluation = run.evaluation or {}
        event_append(
            type="retraining.completed",
            actor=None,
            model_name=run.model.name,
            version=run.version.version if run.version else None,
            payload={
                "run": run.pk,
                "trigger": run.trigger,
                "verdict": verdict,
                "version": run.version.version if run.version else None,
                "promotion_request": run.promotion_request_id,
                "metric": evaluation.get("metric"),
                "improvement": evaluation.get("improvement"),
                "interval": evaluation.get("interval"),
            },
        )
        return run


def step_skip_rest(*, step_id: int, output: dict, log: str, verdict: str) -> RetrainingRun:
    """The check found no need: this step and the rest skipped, the run closed as skipped."""
    with transaction.atomic():
        step = RetrainingStep.objects.select_for_update().get(pk=step_id)
        if step.status != Step.RUNNING:
            return step.run
        step.status, step.finished_at, step.output, step.log = Step.SKIPPED, timezone.now(), output, log[-20000:]
        step.save()
        return run_finish(run_id=step.run_id, verdict=verdict, status=Run.SKIPPED)


def step_fail(*, step_id: int, error: str, log: str = "", retry: bool = False) -> RetrainingRun:
    """A failed step: retried (back to pending, queued again) when `retry` and attempts are
    left, else the step and the run fail and `retraining.step_failed` is journaled."""
    with transaction.atomic():
        step = RetrainingStep.objects.select_related("run").get(pk=step_id)
        run = _lock_run(step.run_id)
        step = RetrainingStep.objects.select_for_update().get(pk=step_id)
        if run.status in RetrainingRun.FINISHED or step.status != Step.RUNNING:
            return run
        step.log = (log + ("\n" if log else "") + error)[-20000:]
        if retry and step.attempt < settings.RETRAINING_STEP_MAX_ATTEMPTS:
            step.status, step.heartbeat_at = Step.PENDING, None
            step.save()
            _enqueue_step(run.pk, step.name)
            return run
        step.status, step.finished_at = Step.FAILED, timezone.now()
        step.save()
        run.status, run.verdict, run.error, run.finished_at = Run.FAILED, RetrainingRun.Verdict.FAILED, error[:10000], timezone.now()
        run.save(update_fields=["status", "verdict", "error", "finished_at"])
        RetrainingStep.objects.filter(run=run, status=Step.PENDING).update(status=Step.CANCELLED)
        event_append(
            type="retraining.step_failed",
            actor=None,
            model_name=run.model.name,
            payload={"run": run.pk, "step": step.name, "attempt": step.attempt, "error": error[:2000]},
        )
        return run


def step_heartbeat(step_id: int) -> int:
    return RetrainingStep.objects.filter(pk=step_id, status=Step.RUNNING).update(heartbeat_at=timezone.now())


def retraining_run_retry(*, actor: User, run_id: int) -> RetrainingRun:
    """Run a failed (or cancelled) run again from its first unfinished step."""
    require_monitor(actor)
    try:
        with transaction.atomic():
            run = _lock_run(run_id)
            if run.status not in (Run.FAILED, Run.CANCELLED):
                raise Conflict(f"Run #{run.pk} is {run.status}; only a failed or cancelled run can be retried.", code="run_not_failed")
            first = run.steps.exclude(status__in=(Step.SUCCEEDED, Step.SKIPPED)).order_by("position").first()
            if first is None:
                raise Conflict(f"Run #{run.pk} has no unfinished step.", code="run_not_failed")
            run.steps.filter(position__gte=first.position).update(status=Step.PENDING, finished_at=None, heartbeat_at=None)
            run.status, run.verdict, run.error, run.finished_at = Run.QUEUED, "", "", None
            run.save(update_fields=["status", "verdict", "error", "finished_at"])
            event_append(
                type="retraining.retried", actor=actor, model_name=run.model.name, payload={"run": run.pk, "from_step": first.name}
            )
            _enqueue_step(run.pk, first.name)
    except IntegrityError:
        raise Conflict(f"Another run of this model is active; retry #{run_id} when it ends.", code="run_active") from None
    return run


def retraining_run_cancel(*, actor: User, run_id: int) -> RetrainingRun:
    require_monitor(actor)
    with transaction.atomic():
        run = _lock_run(run_id)
        if run.status in RetrainingRun.FINISHED:
            raise Conflict(f"Run #{run.pk} is already {run.status}.", code="run_finished")
        run.status, run.verdict, run.finished_at = Run.CANCELLED, RetrainingRun.Verdict.CANCELLED, timezone.now()
        run.save(update_fields=["status", "verdict", "finished_at"])
        run.steps.filter(status__in=(Step.PENDING, Step.RUNNING)).update(status=Step.CANCELLED, finished_at=timezone.now())
        event_append(type="retraining.cancelled", actor=actor, model_name=run.model.name, payload={"run": run.pk})
    return run


def stale_steps_sweep(*, now=None) -> dict:
    """Steps whose worker stopped beating: retried while attempts are left, else failed."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS)
    found = {"retried": 0, "failed": 0}
    for step_id in RetrainingStep.objects.filter(status=Step.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", flat=True):
        step = RetrainingStep.objects.get(pk=step_id)
        message = (
            f"Worker lost: no heartbeat since {step.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC "
            f"(attempt {step.attempt} of {settings.RETRAINING_STEP_MAX_ATTEMPTS})."
        )
        run = step_fail(step_id=step_id, error=message, log=step.log, retry=True)
        found["failed" if run.status == Run.FAILED else "retried"] += 1
    return found
