"""Canary rollouts: started by an approved promotion, moved step by step by analysis,
ended by the registry making the challenger Production (or by a rollback to 0 %).

The traffic ceiling: a challenger answers more than CHALLENGER_TRAFFIC_CEILING percent
only when its deployment carries an approved promotion request, and it never answers
all traffic while another version is Production: the last step of an approved canary,
and a blue/green cutover, *are* the registry's promotion, in the same transaction. A
canary configured by hand is an evaluation: it ends where the ceiling would be passed.

A model is "served here" when it has a live deployment; an approval for such a model
starts a canary with that deployment's steps and thresholds. A model not served here is
promoted at once by the registry (see registry.rollout).
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from control_plane.journal import event_append
from registry import services as registry_services
from registry.models import ModelVersion, PromotionStatus, RegisteredModel
from registry.services._common import _lock_model
from registry.stages import PRODUCTION

from . import selectors
from .analysis import FAIL, PASS, WAIT, Thresholds, analyse
from .models import CanaryAnalysis, Deployment

log = logging.getLogger(__name__)
Strategy, State = Deployment.Strategy, Deployment.State


def _journal(deployment: Deployment, type_: str, actor=None, **payload) -> None:
    event_append(
        type=type_,
        actor=actor,
        model_name=deployment.model.name,
        version=deployment.challenger.version if deployment.challenger_id else None,
        payload={"deployment": deployment.pk, "strategy": deployment.strategy, **payload},
    )


def _live(model: RegisteredModel) -> Deployment | None:
    return (
        Deployment.objects.select_for_update(of=("self",))
        .filter(model=model, state__in=Deployment.LIVE_STATES)
        .select_related("model", "champion", "challenger")
        .first()
    )


def is_served(*, model: RegisteredModel) -> bool:
    return Deployment.objects.filter(model=model, state__in=Deployment.LIVE_STATES).exists()


def approved(deployment: Deployment) -> bool:
    """Whether the challenger's promotion request, carried by this deployment, is approved."""
    request = deployment.promotion_request
    return request is not None and request.status == PromotionStatus.APPROVED and request.version_id == deployment.challenger_id


def above_ceiling(weight: int) -> bool:
    return weight > settings.CHALLENGER_TRAFFIC_CEILING


def start_rollout(*, request, actor) -> bool:
    """Called by the registry inside the approving transaction (model row locked). True
    when serving takes over (the version becomes Production at the end of the rollout)."""
    model = request.model
    current = _live(model)
    if current is None:
        return False
    champion = ModelVersion.objects.filter(model=model, stage=PRODUCTION).first()
    if champion is None:
        return False
    if current.strategy == Strategy.BLUE_GREEN and current.challenger_id == request.version_id:
        # The approval waits for the operator's cutover, which makes it Production.
        current.promotion_request = request
        current.save(update_fields=["promotion_request", "updated_at"])
        _journal(current, "deployment.approved", actor, promotion_request=request.pk)
        return True
    now = timezone.now()
    current.state, current.ended_at = State.REPLACED, now
    current.save(update_fields=["state", "ended_at", "updated_at"])
    if len(current.steps) == 1:  # steps [100]: the only step is the promotion itself
        Deployment.objects.create(
            model=model, strategy=Strategy.SINGLE, champion=request.version, steps=current.steps,
            step_seconds=current.step_seconds, analysis=current.analysis, created_by=actor,
        )
        return False
    canary = Deployment.objects.create(
        model=model,
        strategy=Strategy.CANARY,
        champion=champion,
        challenger=request.version,
        steps=current.steps,
        step_seconds=current.step_seconds,
        analysis=current.analysis,
        promotion_request=request,
        created_by=actor,
        current_step=0,
        challenger_weight=current.steps[0],
        step_started_at=now,
    )
    _journal(canary, "deployment.canary_started", actor, promotion_request=request.pk, weight=canary.challenger_weight)
    return True


def production_changed(*, model, actor) -> None:
    """After a registry rollback: stop any rollout in flight, serve the Production version
    (a single deployment still naming the old one is replaced too)."""
    current = _live(model)
    production = ModelVersion.objects.get(model=model, stage=PRODUCTION)
    if current is None or (current.strategy == Strategy.SINGLE and current.champion_id == production.pk):
        return
    ended = State.REPLACED if current.strategy == Strategy.SINGLE else State.ABORTED
    current.state, current.challenger_weight, current.ended_at = ended, 0, timezone.now()
    current.save(update_fields=["state", "challenger_weight", "ended_at", "updated_at"])
    single = Deployment.objects.create(
        model=model,
        strategy=Strategy.SINGLE,
        champion=production,
        steps=current.steps,
        step_seconds=current.step_seconds,
        analysis=current.analysis,
        created_by=actor,
    )
    _journal(current, "deployment.abort", actor, reason="Registry rollback.", replaced_by=single.pk)


def canary_evaluate(deployment_id: int, *, force: bool = False) -> str | None:
    """Analyse the current step once it has run its time (or at once with force).
    Returns the decision, or None when it is not time yet or nothing is live."""
    with transaction.atomic():
        found = Deployment.objects.filter(pk=deployment_id).values_list("model__name", flat=True).first()
        if found is None:
            return None
        model = _lock_model(found)
        deployment = (
            Deployment.objects.select_for_update(of=("self",)).select_related("challenger", "champion").get(pk=deployment_id)
        )
        deployment.model = model
        if deployment.strategy != Strategy.CANARY or deployment.state != State.ACTIVE:
            return None
        started = deployment.step_started_at or deployment.created_at
        if not force and (timezone.now() - started).total_seconds() < deployment.step_seconds:
            return None
        limits = Thresholds.from_dict(deployment.analysis)
        champion = selectors.variant_stats(deployment_id=deployment.pk, variant="champion", since=started)
        if champion.requests < limits.min_requests:
            # At 100 % the champion serves nobody: compare with all it served in this rollout.
            champion = selectors.variant_stats(deployment_id=deployment.pk, variant="champion", since=deployment.created_at)
        verdict = analyse(
            champion,
            selectors.variant_stats(deployment_id=deployment.pk, variant="challenger", since=started),
            limits,
        )
        CanaryAnalysis.objects.create(
            deployment=deployment,
            step=deployment.current_step,
            challenger_weight=deployment.challenger_weight,
            decision=verdict.decision,
            failed_metric=verdict.failed_metric,
            metrics=verdict.metrics,
        )
        # The journal (and every channel subscribed to it) gets decisions only: a "wait" tick
        # stays an analysis row, shown on the deployment page.
        if verdict.decision != WAIT:
            _journal(
                deployment,
                "deployment.analysis",
                step=deployment.current_step,
                weight=deployment.challenger_weight,
                decision=verdict.decision,
                failed_metric=verdict.failed_metric,
                metrics=verdict.metrics,
            )
        if verdict.decision == FAIL:
            _roll_back(deployment, verdict)
        elif verdict.decision == PASS:
            _advance(deployment)
        return verdict.decision


def _roll_back(deployment: Deployment, verdict) -> None:
    deployment.state, deployment.challenger_weight, deployment.ended_at = State.ROLLED_BACK, 0, timezone.now()
    deployment.save(update_fields=["state", "challenger_weight", "ended_at", "updated_at"])
    _journal(
        deployment,
        "deployment.rolled_back",
        failed_metric=verdict.failed_metric,
        metrics=verdict.metrics,
        promotion_request=deployment.promotion_request_id,
    )


def _advance(deployment: Deployment) -> None:
    """Enter the next step; the last step, or a step beyond the ceiling without an
    approval, ends the canary instead (see complete)."""
    following = deployment.current_step + 1
    last = following >= len(deployment.steps) - 1
    if not last and not (above_ceiling(deployment.steps[following]) and not approved(deployment)):
        deployment.current_step += 1
        deployment.challenger_weight = deployment.steps[deployment.current_step]
        deployment.step_started_at = timezone.now()
        deployment.save(update_fields=["current_step", "challenger_weight", "step_started_at", "updated_at"])
        _journal(deployment, "deployment.step", step=deployment.current_step, weight=deployment.challenger_weight)
        return
    complete(deployment)


def complete(deployment: Deployment, *, reason: str = "") -> None:
    """End a canary or a blue/green: its challenger becomes Production, in this
    transaction, when it carries an approved promotion request; one configured by hand
    only evaluated, so its traffic goes back to the champion."""
    deployment.state, deployment.ended_at = State.COMPLETED, timezone.now()
    if not approved(deployment):
        deployment.challenger_weight = 0
        deployment.save(update_fields=["state", "challenger_weight", "ended_at", "updated_at"])
        _journal(deployment, "deployment.completed", promoted=False)
        return
    deployment.save(update_fields=["state", "ended_at", "updated_at"])
    registry_services.promotion_complete(
        request_id=deployment.promotion_request_id,
        reason=reason or f"Canary passed its steps ({', '.join(map(str, deployment.steps))} %).",
    )
    Deployment.objects.create(
        model=deployment.model,
        strategy=Strategy.SINGLE,
        champion=deployment.challenger,
        steps=deployment.steps,
        step_seconds=deployment.step_seconds,
        analysis=deployment.analysis,
    )
    _journal(deployment, "deployment.completed", promoted=True, promotion_request=deployment.promotion_request_id)


def canary_tick() -> dict[str, int]:
    """Evaluate every active canary whose step time is up (run by beat)."""
    counts = {PASS: 0, FAIL: 0, WAIT: 0}
    for deployment_id in Deployment.objects.filter(strategy=Strategy.CANARY, state=State.ACTIVE).values_list(
        "pk", flat=True
    ):
        decision = canary_evaluate(deployment_id)
        if decision:
            counts[decision] += 1
    return counts
