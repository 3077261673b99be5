"""Stage moves, the archive-then-promote step, and rollback."""

from urllib.parse import quote

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from control_plane import roles
from control_plane.errors import Conflict, Invalid
from control_plane.journal import event_append

from .. import rollout, stages
from ..models import (
    ModelVersion,
    PromotionRequest,
    PromotionStatus,
    RegisteredModel,
    StageTransition,
)
from ._common import _lock_model, _require, _same_time, _version

Kind = StageTransition.Kind


def _move(
    version: ModelVersion,
    to_stage: str,
    *,
    kind: str,
    actor: User | None,
    reason: str = "",
    request: PromotionRequest | None = None,
) -> None:
    """Change a version's stage, keep the history row and the journal event together."""
    from_stage = version.stage
    version.stage = to_stage
    version.stage_changed_at = timezone.now()
    version.save(update_fields=["stage", "stage_changed_at", "updated_at"])
    _same_time(version.model, version.updated_at)  # a stage change updates the model too (MLflow does)
    StageTransition.objects.create(
        model=version.model,
        version=version,
        from_stage=from_stage,
        to_stage=to_stage,
        kind=kind,
        actor=actor,
        reason=reason,
        promotion_request=request,
    )
    event_append(
        type="version.stage_changed",
        actor=actor,
        model_name=version.model.name,
        version=version.version,
        payload={
            "from": from_stage,
            "to": to_stage,
            "kind": kind,
            "reason": reason,
            "promotion_request": request.pk if request else None,
        },
    )


def _make_production(
    model: RegisteredModel,
    version: ModelVersion,
    *,
    kind: str,
    actor: User,
    reason: str,
    request: PromotionRequest | None = None,
) -> ModelVersion | None:
    """Archive the current Production version, then promote `version` (in that order,
    so the one-Production constraint holds at every statement). Returns the old one."""
    previous = ModelVersion.objects.select_for_update().filter(model=model, stage=stages.PRODUCTION).first()
    if previous is not None:
        previous.model = model
        _move(previous, stages.ARCHIVED, kind=Kind.REPLACED, actor=actor, reason=f"Replaced by v{version.version}.", request=request)
    _move(version, stages.PRODUCTION, kind=kind, actor=actor, reason=reason, request=request)
    return previous


def version_set_stage(
    *, actor: User, model_name: str, version: int, stage: str, reason: str = "", archive_existing: bool = False
) -> ModelVersion:
    """A direct move among none, staging and archived. With `archive_existing` (MLflow's
    archive_existing_versions) the other versions in the target stage are archived."""
    if stage not in stages.STAGES:
        raise Invalid(
            f"Unknown stage '{stage}'; use one of {', '.join(stages.STAGES)}.",
            code="unknown_stage",
            details={"stage": [f"Must be one of {', '.join(stages.STAGES)}."]},
        )
    _require(actor, roles.CHANGE_STAGE)  # every direct move needs it: refuse before looking
    with transaction.atomic():
        model = _lock_model(model_name)
        mv = _version(model, version)
        if mv.stage == stage:
            raise Conflict(f"{mv} is already in stage '{stage}'.", code="already_in_stage")
        rule = stages.transition_rule(mv.stage, stage)
        if rule is None:
            raise Conflict(f"{mv} cannot move from '{mv.stage}' to '{stage}'.", code="transition_not_allowed")
        if rule.via == "promotion":
            raise Conflict(
                f"{mv} reaches Production only through an approved promotion request (POST /api/v1/promotions/).",
                code="promotion_required",
            )
        if rule.via == "rollback":
            raise Conflict(
                f"Restoring {mv} to Production is a rollback (POST /api/v1/models/{quote(model.name, safe='')}/rollback/).",
                code="rollback_required",
            )
        if rule.via != "direct":
            raise Conflict(f"{mv} cannot be moved out of Production by hand.", code="transition_not_allowed")
        _require(actor, rule.capability)
        _move(mv, stage, kind=Kind.MANUAL, actor=actor, reason=reason)
        if stage != stages.STAGING:
            _close_pending_requests(mv, actor, f"Version left Staging for '{stage}'.")
        if archive_existing and stage == stages.STAGING:
            for other in ModelVersion.objects.select_for_update().filter(model=model, stage=stage).exclude(pk=mv.pk):
                other.model = model
                _move(other, stages.ARCHIVED, kind=Kind.REPLACED, actor=actor, reason=f"Replaced in Staging by v{mv.version}.")
                _close_pending_requests(other, actor, "Version left Staging for 'archived'.")
    return mv


def _close_request(request: PromotionRequest, status: str, actor: User | None, version: ModelVersion, **payload) -> None:
    """Close a promotion request and journal `promotion.<status>` with its payload."""
    request.status = status
    request.closed_at = timezone.now()
    request.closed_by = actor
    request.save(update_fields=["status", "closed_at", "closed_by"])
    event_append(
        type=f"promotion.{status}",
        actor=actor,
        model_name=version.model.name,
        version=version.version,
        payload={"promotion_request": request.pk, **payload},
    )


def _close_pending_requests(version: ModelVersion, actor: User, why: str) -> None:
    for request in PromotionRequest.objects.select_for_update().filter(version=version, status=PromotionStatus.PENDING):
        _close_request(request, PromotionStatus.CANCELLED, actor, version, reason=why)


# --- Rollback -------------------------------------------------------------------------


def model_rollback(*, actor: User, model_name: str, reason: str, to_version: int | None = None) -> ModelVersion:
    """Put back a version that was in Production before, at once and without a new
    approval (it was approved when it first reached Production)."""
    _require(actor, roles.ROLLBACK)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("A rollback needs a reason.", details={"reason": ["This field is required."]})
    with transaction.atomic():
        model = _lock_model(model_name)
        current = ModelVersion.objects.filter(model=model, stage=stages.PRODUCTION).first()
        was_production = StageTransition.objects.filter(model=model, to_stage=stages.PRODUCTION)
        if to_version is not None:
            target = _version(model, to_version)
            if current is not None and target.pk == current.pk:
                raise Conflict(f"{target} is already in Production.", code="already_in_stage")
            if not was_production.filter(version=target).exists():
                raise Conflict(
                    f"{target} was never in Production; only a version approved for Production before can be "
                    "restored without approval.",
                    code="rollback_target_never_production",
                )
        else:
            previous = (
                was_production.exclude(version=current)
                .order_by("-created_at", "-id")
                .values_list("version__version", flat=True)
                .first()
            )
            if previous is None:
                raise Conflict(f"Model '{model.name}' has no earlier Production version to roll back to.", code="no_rollback_target")
            target = _version(model, previous)
        rule = stages.transition_rule(target.stage, stages.PRODUCTION)
        if rule is None or rule.via != "rollback":
            raise Conflict(
                f"{target} is in stage '{target.stage}'; a rollback restores an archived version.",
                code="transition_not_allowed",
            )
        _make_production(model, target, kind=Kind.ROLLBACK, actor=actor, reason=reason)
        rollout.production_changed(model=model, actor=actor)
        event_append(
            type="model.rolled_back",
            actor=actor,
            model_name=model.name,
            version=target.version,
            payload={"reason": reason, "from_version": current.version if current else None, "to_version": target.version},
        )
    return target


def version_set_stage_imported(
    *, actor: User, model_name: str, version: int, stage: str, source: str, note: str = ""
) -> ModelVersion:
    """Copy a stage from another MLflow registry while moving over to this one. Only an
    admin may; Production arrives without a promotion request (it was in Production
    there), and the history and journal mark the move as imported."""
    _require(actor, roles.MANAGE_USERS)
    if stage not in stages.STAGES:
        raise Invalid(f"Unknown stage '{stage}'.", code="unknown_stage", details={"stage": ["Unknown stage."]})
    with transaction.atomic():
        model = _lock_model(model_name)
        mv = _version(model, version)
        if mv.stage == stage:
            return mv
        reason = f"Imported from the MLflow registry at {source}.{note}"
        if stage == stages.PRODUCTION:
            _make_production(model, mv, kind=Kind.IMPORTED, actor=actor, reason=reason)
        else:
            _move(mv, stage, kind=Kind.IMPORTED, actor=actor, reason=reason)
            if mv.stage != stages.STAGING:
                _close_pending_requests(mv, actor, reason)
    return mv
