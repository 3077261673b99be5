"""Deployments: how a model's traffic is split. One transaction each, the model row
locked first (the registry's lock order), one journal event per change; the event
also tells every serving process to reload its routing table."""

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from control_plane import roles
from control_plane.errors import Conflict, Forbidden, Invalid
from control_plane.journal import event_append
from registry import stages
from registry.models import ModelVersion, RegisteredModel
from registry.services._common import _lock_model, _version

from . import rollouts
from .models import Deployment, default_analysis

Strategy, State = Deployment.Strategy, Deployment.State
# Who may configure each strategy: shadow puts no user at risk; the others serve real
# traffic from a version that is not in Production.
CONFIGURE_CAPABILITIES = {
    Strategy.SINGLE: (roles.REGISTER, roles.DECIDE_PROMOTION),
    Strategy.SHADOW: (roles.REGISTER, roles.DECIDE_PROMOTION),
    Strategy.CANARY: (roles.DECIDE_PROMOTION,),
    Strategy.BLUE_GREEN: (roles.DECIDE_PROMOTION,),
}
ACTIONS = ("pause", "resume", "promote", "abort", "cutover", "rollback")
# Checked before the deployment is even looked up (permission before state): abort
# applies to every strategy, the rest to canary and blue/green, an approver's business.
ACTION_CAPABILITIES = {action: (roles.DECIDE_PROMOTION,) for action in ACTIONS} | {
    "abort": (roles.REGISTER, roles.DECIDE_PROMOTION)
}


def _require(actor: User, capabilities: tuple[str, ...]) -> None:
    if not any(roles.user_can(actor, c) for c in capabilities):
        raise Forbidden(roles.not_allowed(capabilities[-1], actor), code="permission_denied")


def _live(model: RegisteredModel) -> Deployment | None:
    return (
        Deployment.objects.select_for_update(of=("self",))
        .filter(model=model, state__in=Deployment.LIVE_STATES)
        .select_related("champion", "challenger")
        .first()
    )


def _journal(actor, deployment: Deployment, type_: str, **payload) -> None:
    event_append(
        type=type_,
        actor=actor,
        model_name=deployment.model.name,
        version=deployment.challenger.version if deployment.challenger else None,
        payload={
            "deployment": deployment.pk,
            "strategy": deployment.strategy,
            "state": deployment.state,
            "challenger_weight": deployment.challenger_weight,
            "champion_version": deployment.champion.version if deployment.champion else None,
            **payload,
        },
    )


def _check_steps(steps: list[int]) -> list[int]:
    if not steps or any(not isinstance(s, int) or not 0 < s <= 100 for s in steps) or steps != sorted(set(steps)):
        raise Invalid("steps must be increasing percentages in 1..100.", details={"steps": ["Invalid steps."]})
    if steps[-1] != 100:
        raise Invalid("The last canary step must be 100.", details={"steps": ["Must end at 100."]})
    return steps


def deployment_configure(
    *,
    actor: User,
    model_name: str,
    strategy: str,
    challenger_version: int | None = None,
    steps: list[int] | None = None,
    step_seconds: int | None = None,
    analysis: dict | None = None,
) -> Deployment:
    """Replace the model's live deployment with a new one. The champion is always the
    Production version; the challenger (shadow, canary, blue/green) a Staging one."""
    if strategy not in Strategy.values:
        raise Invalid(f"Unknown strategy '{strategy}'.", details={"strategy": [f"One of {', '.join(Strategy.values)}."]})
    _require(actor, CONFIGURE_CAPABILITIES[strategy])
    with transaction.atomic():
        model = _lock_model(model_name)
        champion = ModelVersion.objects.filter(model=model, stage=stages.PRODUCTION).first()
        if champion is None:
            raise Conflict(f"Model '{model_name}' has no Production version to serve.", code="nothing_to_serve")
        challenger = None
        if strategy != Strategy.SINGLE:
            if challenger_version is None:
                raise Invalid(
                    f"A {strategy} deployment needs challenger_version.",
                    details={"challenger_version": ["This field is required."]},
                )
            challenger = _version(model, challenger_version)
            if challenger.stage != stages.STAGING:
                raise Conflict(
                    f"{challenger} is in stage '{challenger.stage}'; a challenger must be in Staging.",
                    code="challenger_not_in_staging",
                )
        previous = _live(model)
        if previous is not None:
            previous.state, previous.ended_at = State.REPLACED, timezone.now()
            previous.save(update_fields=["state", "ended_at", "updated_at"])
        deployment = Deployment.objects.create(
            model=model,
            strategy=strategy,
            champion=champion,
            challenger=challenger,
            steps=_check_steps(steps) if steps is not None else Deployment._meta.get_field("steps").get_default(),
            step_seconds=step_seconds or 600,
            analysis={**default_analysis(), **(analysis or {})},
            created_by=actor,
        )
        if strategy == Strategy.CANARY:
            _require_within_ceiling(deployment)
            _enter_step(deployment, 0)
        _journal(actor, deployment, "deployment.configured", replaced=previous.pk if previous else None)
    return deployment


def _require_within_ceiling(deployment: Deployment) -> None:
    """A canary configured here carries no approval: it may not start above the ceiling
    (it ends its evaluation where a later step would pass it)."""
    first = deployment.steps[0]
    if rollouts.above_ceiling(first):
        ceiling = settings.CHALLENGER_TRAFFIC_CEILING
        raise Conflict(
            f"A challenger gets more than {ceiling} % of traffic only once its promotion request is approved; "
            f"start below that (the approval continues the rollout) or file a promotion request.",
            code="approval_required",
            details={"steps": [f"The first step must be at most {ceiling} %."]},
        )


def _enter_step(deployment: Deployment, index: int) -> None:
    deployment.current_step = index
    deployment.challenger_weight = deployment.steps[index]
    deployment.step_started_at = timezone.now()
    deployment.save(update_fields=["current_step", "challenger_weight", "step_started_at", "updated_at"])


def deployment_action(*, actor: User, model_name: str, action: str, reason: str = "") -> Deployment:
    if action not in ACTIONS:
        raise Invalid(f"Unknown action '{action}'.", details={"action": [f"One of {', '.join(ACTIONS)}."]})
    _require(actor, ACTION_CAPABILITIES[action])
    with transaction.atomic():
        model = _lock_model(model_name)
        deployment = _live(model)
        if deployment is None:
            raise Conflict(f"Model '{model_name}' has no live deployment.", code="no_deployment")
        deployment.model = model
        _require(actor, CONFIGURE_CAPABILITIES[deployment.strategy])
        handler = {
            "pause": _pause,
            "resume": _resume,
            "abort": _abort,
            "cutover": _cutover,
            "rollback": _rollback,
            "promote": _promote_now,
        }[action]
        handler(deployment)
        _journal(actor, deployment, f"deployment.{action}", reason=reason)
    return deployment


def _expect(deployment: Deployment, *, strategies=None, states=None, action: str) -> None:
    if strategies and deployment.strategy not in strategies:
        raise Conflict(f"'{action}' does not apply to a {deployment.strategy} deployment.", code="action_not_allowed")
    if states and deployment.state not in states:
        raise Conflict(f"'{action}' does not apply to a {deployment.state} deployment.", code="action_not_allowed")


def _pause(d: Deployment) -> None:
    _expect(d, strategies=[Strategy.CANARY], states=[State.ACTIVE], action="pause")
    d.state = State.PAUSED
    d.save(update_fields=["state", "updated_at"])


def _resume(d: Deployment) -> None:
    _expect(d, strategies=[Strategy.CANARY], states=[State.PAUSED], action="resume")
    d.state, d.step_started_at = State.ACTIVE, timezone.now()
    d.save(update_fields=["state", "step_started_at", "updated_at"])


def _abort(d: Deployment) -> None:
    """Stop at once: all traffic back to the champion."""
    d.state, d.challenger_weight, d.ended_at = State.ABORTED, 0, timezone.now()
    d.save(update_fields=["state", "challenger_weight", "ended_at", "updated_at"])


def _cutover(d: Deployment) -> None:
    """All traffic to the challenger is its promotion: only with an approved request, and
    the registry makes it Production in this transaction."""
    _expect(d, strategies=[Strategy.BLUE_GREEN], action="cutover")
    if not rollouts.approved(d):
        raise Conflict(
            f"Cutover sends all traffic to v{d.challenger.version}, which needs its promotion request approved "
            "first (POST /api/v1/promotions/; the approval waits for this cutover).",
            code="approval_required",
        )
    rollouts.complete(d, reason=f"Blue/green cutover to v{d.challenger.version}.")


def _rollback(d: Deployment) -> None:
    _expect(d, strategies=[Strategy.BLUE_GREEN, Strategy.CANARY], action="rollback")
    d.challenger_weight = 0
    if d.strategy == Strategy.CANARY:
        d.state, d.ended_at = State.ROLLED_BACK, timezone.now()
    d.save(update_fields=["challenger_weight", "state", "ended_at", "updated_at"])


def _promote_now(d: Deployment) -> None:
    """Skip the remaining steps: the approved challenger becomes Production now."""
    _expect(d, strategies=[Strategy.CANARY], states=[State.ACTIVE, State.PAUSED], action="promote")
    if d.promotion_request_id is None:
        raise Conflict(
            "This canary was configured by hand; its challenger reaches Production only through an approved "
            "promotion request.",
            code="promotion_required",
        )
    rollouts.complete(d)
