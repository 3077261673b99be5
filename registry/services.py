"""Every write to the registry. Each service is one transaction that locks the
model row first (so changes to one model are serialised, and two approvals cannot
both win), checks the rules, writes, and appends one journal event per change."""

import re

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from control_plane import roles
from control_plane.errors import Conflict, Forbidden, Invalid, NotFound
from control_plane.journal import event_append

from . import stages
from .gate import gate_evaluate
from .models import (
    MODEL_NAME_PATTERN,
    ModelVersion,
    PromotionDecision,
    PromotionRequest,
    PromotionStatus,
    RegisteredModel,
    StageTransition,
)
from .schema import schema_normalise, schema_problems

Kind = StageTransition.Kind


def _require(actor: User, capability: str) -> None:
    if not roles.user_can(actor, capability):
        raise Forbidden(f"Your role does not allow '{capability}'.", code="permission_denied")


def _lock_model(name: str) -> RegisteredModel:
    model = RegisteredModel.objects.select_for_update().filter(name=name).first()
    if model is None:
        raise NotFound(f"Model '{name}' does not exist.", code="model_not_found")
    return model


def _version(model: RegisteredModel, number: int, *, lock: bool = True) -> ModelVersion:
    qs = ModelVersion.objects.select_for_update() if lock else ModelVersion.objects
    version = qs.filter(model=model, version=number).first()
    if version is None:
        raise NotFound(f"Model '{model.name}' has no version {number}.", code="version_not_found")
    version.model = model
    return version


def _check_tags(tags) -> dict:
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise Invalid("Tags must be an object of string keys to string values.", details={"tags": ["Invalid."]})
    return tags


# --- Models ---------------------------------------------------------------------------


def model_create(
    *,
    actor: User,
    name: str,
    description: str = "",
    tags: dict | None = None,
    required_approvals: int = 1,
    owner: User | None = None,
) -> RegisteredModel:
    _require(actor, roles.REGISTER)
    if not re.match(MODEL_NAME_PATTERN, name or ""):
        raise Invalid(
            "Model names are 1 to 128 letters, digits, '.', '_' or '-'.",
            code="invalid_name",
            details={"name": ["Use 1 to 128 letters, digits, '.', '_' or '-'."]},
        )
    if not 1 <= required_approvals <= 10:
        raise Invalid("required_approvals must be between 1 and 10.", details={"required_approvals": ["1 to 10."]})
    try:
        with transaction.atomic():
            model = RegisteredModel.objects.create(
                name=name,
                description=description,
                tags=_check_tags(tags),
                required_approvals=required_approvals,
                owner=owner or actor,
                created_by=actor,
            )
            event_append(
                type="model.created",
                actor=actor,
                model_name=name,
                payload={"required_approvals": required_approvals, "owner": model.owner.username},
            )
    except IntegrityError:
        raise Conflict(f"Model '{name}' already exists.", code="model_exists") from None
    return model


def model_update(
    *,
    actor: User,
    name: str,
    description: str | None = None,
    tags: dict | None = None,
    required_approvals: int | None = None,
) -> RegisteredModel:
    _require(actor, roles.REGISTER)
    with transaction.atomic():
        model = _lock_model(name)
        changes = {}
        if description is not None and description != model.description:
            changes["description"] = description
        if tags is not None and _check_tags(tags) != model.tags:
            changes["tags"] = tags
        if required_approvals is not None and required_approvals != model.required_approvals:
            # Lowering the number of approvers weakens the four-eyes rule: approvers only.
            if required_approvals < model.required_approvals:
                _require(actor, roles.DECIDE_PROMOTION)
            if not 1 <= required_approvals <= 10:
                raise Invalid("required_approvals must be between 1 and 10.", details={"required_approvals": ["1 to 10."]})
            changes["required_approvals"] = required_approvals
        if changes:
            for field, value in changes.items():
                setattr(model, field, value)
            model.save()
            event_append(type="model.updated", actor=actor, model_name=name, payload={"changed": sorted(changes)})
    return model


def model_delete(*, actor: User, name: str) -> None:
    _require(actor, roles.DELETE_MODEL)
    with transaction.atomic():
        model = _lock_model(name)
        production = model.versions.filter(stage=stages.PRODUCTION).first()
        if production is not None:
            raise Conflict(
                f"Model '{name}' has version {production.version} in Production; roll it back or archive it first.",
                code="model_in_production",
            )
        count = model.versions.count()
        model.delete()
        event_append(type="model.deleted", actor=actor, model_name=name, payload={"versions": count})


# --- Versions -------------------------------------------------------------------------


def version_register(
    *,
    actor: User,
    model_name: str,
    source: str,
    run_id: str = "",
    description: str = "",
    metrics: dict | None = None,
    params: dict | None = None,
    tags: dict | None = None,
    input_schema: list | None = None,
    output_schema: list | None = None,
) -> ModelVersion:
    _require(actor, roles.REGISTER)
    problems = {}
    if not source or not source.strip():
        problems["source"] = ["A source URI is required."]
    for field, schema in (("input_schema", input_schema), ("output_schema", output_schema)):
        if schema:
            found = schema_problems(schema)
            if found:
                problems[field] = found
    if metrics and not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values()):
        problems["metrics"] = ["Metric values must be numbers."]
    if problems:
        raise Invalid("The version is invalid: " + "; ".join(f"{k}: {v[0]}" for k, v in problems.items()), details=problems)
    with transaction.atomic():
        model = _lock_model(model_name)
        model.last_version += 1
        model.save(update_fields=["last_version", "updated_at"])
        version = ModelVersion.objects.create(
            model=model,
            version=model.last_version,
            source=source.strip(),
            run_id=run_id or "",
            description=description or "",
            metrics=metrics or {},
            params={k: str(v) for k, v in (params or {}).items()},
            tags=_check_tags(tags),
            input_schema=schema_normalise(input_schema or []),
            output_schema=schema_normalise(output_schema or []),
            created_by=actor,
        )
        event_append(
            type="version.registered",
            actor=actor,
            model_name=model.name,
            version=version.version,
            payload={"source": version.source, "run_id": version.run_id},
        )
    return version


def version_update(
    *, actor: User, model_name: str, version: int, description: str | None = None, tags: dict | None = None
) -> ModelVersion:
    _require(actor, roles.REGISTER)
    with transaction.atomic():
        model = _lock_model(model_name)
        mv = _version(model, version)
        changed = []
        if description is not None and description != mv.description:
            mv.description = description
            changed.append("description")
        if tags is not None and _check_tags(tags) != mv.tags:
            mv.tags = tags
            changed.append("tags")
        if changed:
            mv.save(update_fields=[*changed, "updated_at"])
            event_append(
                type="version.updated", actor=actor, model_name=model.name, version=mv.version, payload={"changed": changed}
            )
    return mv


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


def version_set_stage(*, actor: User, model_name: str, version: int, stage: str, reason: str = "") -> ModelVersion:
    if stage not in stages.STAGES:
        raise Invalid(
            f"Unknown stage '{stage}'; use one of {', '.join(stages.STAGES)}.",
            code="unknown_stage",
            details={"stage": [f"Must be one of {', '.join(stages.STAGES)}."]},
        )
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
                f"Restoring {mv} to Production is a rollback (POST /api/v1/models/{model.name}/rollback/).",
                code="rollback_required",
            )
        if rule.via != "direct":
            raise Conflict(f"{mv} cannot be moved out of Production by hand.", code="transition_not_allowed")
        _require(actor, rule.capability)
        _move(mv, stage, kind=Kind.MANUAL, actor=actor, reason=reason)
        if stage != stages.STAGING:
            _close_pending_requests(mv, actor, f"Version left Staging for '{stage}'.")
    return mv


def _close_pending_requests(version: ModelVersion, actor: User, why: str) -> None:
    for request in PromotionRequest.objects.select_for_update().filter(version=version, status=PromotionStatus.PENDING):
        request.status = PromotionStatus.CANCELLED
        request.closed_at = timezone.now()
        request.closed_by = actor
        request.save(update_fields=["status", "closed_at", "closed_by"])
        event_append(
            type="promotion.cancelled",
            actor=actor,
            model_name=version.model.name,
            version=version.version,
            payload={"promotion_request": request.pk, "reason": why},
        )


# --- Promotion requests ---------------------------------------------------------------


def promotion_request(*, actor: User, model_name: str, version: int, reason: str = "") -> PromotionRequest:
    _require(actor, roles.REQUEST_PROMOTION)
    with transaction.atomic():
        model = _lock_model(model_name)
        mv = _version(model, version)
        if mv.stage != stages.STAGING:
            raise Conflict(
                f"{mv} is in stage '{mv.stage}'; only a Staging version can be proposed for Production.",
                code="version_not_in_staging",
            )
        current = ModelVersion.objects.filter(model=model, stage=stages.PRODUCTION).first()
        existing = PromotionRequest.objects.filter(version=mv, status=PromotionStatus.PENDING).first()
        if existing is not None:
            if existing.production_version_at_request_id == (current.pk if current else None):
                raise Conflict(
                    f"{mv} already has pending promotion request #{existing.pk}.",
                    code="promotion_already_pending",
                    details={"promotion_request": existing.pk},
                )
            # The old request went stale (Production changed since): a new one replaces it.
            _close_pending_requests(mv, actor, "Superseded: the Production version changed since it was filed.")
        request = PromotionRequest.objects.create(
            model=model,
            version=mv,
            requested_by=actor,
            reason=reason,
            required_approvals=model.required_approvals,
            production_version_at_request=current,
            gate=gate_evaluate(mv),
        )
        event_append(
            type="promotion.requested",
            actor=actor,
            model_name=model.name,
            version=mv.version,
            payload={
                "promotion_request": request.pk,
                "reason": reason,
                "required_approvals": request.required_approvals,
                "gate_passed": request.gate["passed"],
            },
        )
    return request


def _lock_request(request_id: int) -> tuple[PromotionRequest, RegisteredModel]:
    found = PromotionRequest.objects.filter(pk=request_id).values_list("model__name", flat=True).first()
    if found is None:
        raise NotFound(f"Promotion request {request_id} does not exist.", code="promotion_not_found")
    model = _lock_model(found)
    request = (
        PromotionRequest.objects.select_for_update(of=("self",))
        .select_related("version", "requested_by")
        .get(pk=request_id)
    )
    request.model = model
    request.version.model = model
    return request, model


def _require_pending(request: PromotionRequest) -> None:
    if request.status != PromotionStatus.PENDING:
        raise Conflict(f"Promotion request #{request.pk} is already {request.status}.", code="promotion_closed")


def _require_not_stale(request: PromotionRequest, model: RegisteredModel) -> None:
    version = request.version
    if version.stage != stages.STAGING:
        raise Conflict(
            f"{version} has left Staging (it is '{version.stage}') since request #{request.pk} was filed.",
            code="promotion_stale",
        )
    current = ModelVersion.objects.filter(model=model, stage=stages.PRODUCTION).values_list("pk", flat=True).first()
    if current != request.production_version_at_request_id:
        raise Conflict(
            f"Model '{model.name}' got another Production version since request #{request.pk} was filed; "
            "file a new request so approvers see the current state.",
            code="promotion_stale",
        )


def _close(request: PromotionRequest, status: str, actor: User) -> None:
    request.status = status
    request.closed_at = timezone.now()
    request.closed_by = actor
    request.save(update_fields=["status", "closed_at", "closed_by"])


def promotion_approve(
    *, actor: User, request_id: int, comment: str = "", override_reason: str = ""
) -> PromotionRequest:
    _require(actor, roles.DECIDE_PROMOTION)
    with transaction.atomic():
        request, model = _lock_request(request_id)
        _require_pending(request)
        if request.requested_by_id == actor.id:
            raise Forbidden(
                f"You filed promotion request #{request.pk}; someone else must approve it.",
                code="self_approval_forbidden",
            )
        if request.decisions.filter(approver=actor).exists():
            raise Conflict(f"You already approved promotion request #{request.pk}.", code="already_decided")
        _require_not_stale(request, model)
        gate = gate_evaluate(request.version)
        override_reason = (override_reason or "").strip()
        if not gate["passed"] and not override_reason:
            raise Invalid(
                "The release gate fails (" + ", ".join(gate["failing"]) + "); approve with an override_reason to proceed.",
                code="gate_failed",
                details={"failing_checks": gate["failing"], "gate": gate},
            )
        if gate["passed"]:
            override_reason = ""
        PromotionDecision.objects.create(
            request=request,
            approver=actor,
            verdict=PromotionDecision.Verdict.APPROVE,
            comment=comment,
            gate=gate,
            override_reason=override_reason,
        )
        approvals = request.decisions.filter(verdict=PromotionDecision.Verdict.APPROVE).count()
        event_append(
            type="promotion.approval_recorded",
            actor=actor,
            model_name=model.name,
            version=request.version.version,
            payload={
                "promotion_request": request.pk,
                "comment": comment,
                "approvals": approvals,
                "required_approvals": request.required_approvals,
            },
        )
        if override_reason:
            event_append(
                type="gate.overridden",
                actor=actor,
                model_name=model.name,
                version=request.version.version,
                payload={"promotion_request": request.pk, "override_reason": override_reason, "failing_checks": gate["failing"]},
            )
        if approvals >= request.required_approvals:
            _close(request, PromotionStatus.APPROVED, actor)
            event_append(
                type="promotion.approved",
                actor=actor,
                model_name=model.name,
                version=request.version.version,
                payload={"promotion_request": request.pk, "approvals": approvals},
            )
            _make_production(
                model,
                request.version,
                kind=Kind.PROMOTION,
                actor=actor,
                reason=request.reason or f"Promotion request #{request.pk} approved.",
                request=request,
            )
    return request


def promotion_reject(*, actor: User, request_id: int, comment: str) -> PromotionRequest:
    _require(actor, roles.DECIDE_PROMOTION)
    comment = (comment or "").strip()
    if not comment:
        raise Invalid("A rejection needs a comment saying why.", details={"comment": ["This field is required."]})
    with transaction.atomic():
        request, model = _lock_request(request_id)
        _require_pending(request)
        if request.requested_by_id == actor.id:
            raise Forbidden(
                f"You filed promotion request #{request.pk}; cancel it instead of rejecting it.",
                code="self_decision_forbidden",
            )
        if request.decisions.filter(approver=actor).exists():
            raise Conflict(f"You already decided on promotion request #{request.pk}.", code="already_decided")
        PromotionDecision.objects.create(
            request=request,
            approver=actor,
            verdict=PromotionDecision.Verdict.REJECT,
            comment=comment,
            gate=gate_evaluate(request.version),
        )
        _close(request, PromotionStatus.REJECTED, actor)
        event_append(
            type="promotion.rejected",
            actor=actor,
            model_name=model.name,
            version=request.version.version,
            payload={"promotion_request": request.pk, "comment": comment},
        )
    return request


def promotion_cancel(*, actor: User, request_id: int, reason: str = "") -> PromotionRequest:
    with transaction.atomic():
        request, model = _lock_request(request_id)
        if request.requested_by_id != actor.id and not roles.user_can(actor, roles.MANAGE_USERS):
            raise Forbidden("Only the requester (or an admin) can cancel a promotion request.", code="permission_denied")
        _require_pending(request)
        _close(request, PromotionStatus.CANCELLED, actor)
        event_append(
            type="promotion.cancelled",
            actor=actor,
            model_name=model.name,
            version=request.version.version,
            payload={"promotion_request": request.pk, "reason": reason},
        )
    return request


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
        event_append(
            type="model.rolled_back",
            actor=actor,
            model_name=model.name,
            version=target.version,
            payload={"reason": reason, "from_version": current.version if current else None, "to_version": target.version},
        )
    return target
