"""Promotion requests and the four-eyes decisions on them."""

from django.contrib.auth.models import User
from django.db import transaction

from control_plane import roles, token_scope
from control_plane.errors import Conflict, Forbidden, Invalid, NotFound
from control_plane.journal import event_append

from .. import rollout, stages
from ..gate import gate_evaluate
from ..selectors import promotion_stale_reason
from ..models import (
    ModelVersion,
    PromotionDecision,
    PromotionRequest,
    PromotionStatus,
    RegisteredModel,
)
from ._common import _lock_model, _require, _version
from .stage_changes import Kind, _close_pending_requests, _close_request, _make_production, _move


# --- Promotion requests ---------------------------------------------------------------


def promotion_request(*, actor: User, model_name: str, version: int, reason: str = "") -> PromotionRequest:
    _require(actor, roles.REQUEST_PROMOTION)
    with transaction.atomic():
        model = _lock_model(model_name)
        mv = _version(model, version)
        existing = _current_pending_request(model, mv, actor)
        if existing is not None:
            raise Conflict(
                f"{mv} already has pending promotion request #{existing.pk}.",
                code="promotion_already_pending",
                details={"promotion_request": existing.pk},
            )
        return _file_request(actor, model, mv, reason)


def promotion_request_ensure(*, actor: User, model_name: str, version: int, reason: str = "") -> PromotionRequest | None:
    """What a Production transition or the production alias means through the MLflow
    API: the pending request for this version, filed if there is none (staging the
    version first when it has no stage yet). None when it already is in Production."""
    _require(actor, roles.REQUEST_PROMOTION)
    with transaction.atomic():
        model = _lock_model(model_name)
        mv = _version(model, version)
        if mv.stage == stages.PRODUCTION:
            return None
        existing = _current_pending_request(model, mv, actor)
        if existing is not None:
            return existing
        if mv.stage == stages.NONE:
            _require(actor, roles.CHANGE_STAGE)
            _move(mv, stages.STAGING, kind=Kind.MANUAL, actor=actor, reason="Staged to file a promotion request.")
        return _file_request(actor, model, mv, reason)


def _current_pending_request(model: RegisteredModel, mv: ModelVersion, actor: User) -> PromotionRequest | None:
    """The version's pending request, unless it went stale (Production changed since it
    was filed), in which case it is closed so a new one can replace it: closed by `actor`,
    the person filing the new one (the journal names who caused it)."""
    existing = PromotionRequest.objects.filter(version=mv, status=PromotionStatus.PENDING).first()
    if existing is None:
        return None
    current = ModelVersion.objects.filter(model=model, stage=stages.PRODUCTION).values_list("pk", flat=True).first()
    if existing.production_version_at_request_id == current:
        return existing
    _close_pending_requests(
        mv, actor, f"Superseded by a new request of {actor.username}: the Production version changed since it was filed."
    )
    return None


def _file_request(actor: User, model: RegisteredModel, mv: ModelVersion, reason: str) -> PromotionRequest:
    if mv.stage != stages.STAGING:
        raise Conflict(
            f"{mv} is in stage '{mv.stage}'; only a Staging version can be proposed for Production.",
            code="version_not_in_staging",
        )
    current = ModelVersion.objects.filter(model=model, stage=stages.PRODUCTION).first()
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


def _lock_for_decision(
    actor: User, request_id: int, *, self_refusal: str, self_code: str
) -> tuple[PromotionRequest, RegisteredModel]:
    """Lock a pending request that `actor` may still decide: not its own (four eyes),
    and not one it decided already."""
    request, model = _lock_request(request_id)
    _require_pending(request)
    if request.requested_by_id == actor.id:
        raise Forbidden(f"You filed promotion request #{request.pk}; {self_refusal}", code=self_code)
    token = token_scope.current_token()
    if token is not None and token.created_by_id == request.requested_by_id:
        raise Forbidden(
            f"The token used was made by the requester of promotion request #{request.pk}; {self_refusal}",
            code=self_code,
        )
    if request.decisions.filter(approver=actor).exists():
        raise Conflict(f"You already decided on promotion request #{request.pk}.", code="already_decided")
    return request, model


def _require_not_stale(request: PromotionRequest, model: RegisteredModel) -> None:
    request.model = model
    reason = promotion_stale_reason(request)
    if reason:
        raise Conflict(reason, code="promotion_stale")


def promotion_approve(
    *, actor: User, request_id: int, comment: str = "", override_reason: str = "", replace_rollout: bool = False
) -> PromotionRequest:
    """Record an approval; the last one needed promotes the version, or starts a canary for
    a model served here. An approval that would replace a running rollout (a canary,
    blue-green or another version's shadow) is refused unless `replace_rollout` confirms it."""
    _require(actor, roles.DECIDE_PROMOTION)
    with transaction.atomic():
        request, model = _lock_for_decision(
            actor, request_id, self_refusal="someone else must approve it.", self_code="self_approval_forbidden"
        )
        _require_not_stale(request, model)
        gate = gate_evaluate(request.version)
        override_reason = (override_reason or "").strip()
        if not gate["passed"] and not override_reason:
            raise Invalid(
                f"The release gate fails ({_failing_labels(gate)}); to approve anyway, give an override reason "
                "(override_reason in the API), which is recorded and shown to everyone.",
                code="gate_failed",
                details={"failing_checks": gate["failing"], "gate": gate},
            )
        if gate["passed"]:
            override_reason = ""
        approvals_before = request.decisions.filter(verdict=PromotionDecision.Verdict.APPROVE).count()
        running = rollout.running_rollout(model=model, version=request.version)
        if running and approvals_before + 1 >= request.required_approvals and not replace_rollout:
            raise Conflict(
                f"{running['text']} Approving starts a canary of v{request.version.version} in its place; "
                "confirm that you mean to replace it (replace_rollout in the API).",
                code="rollout_running",
                details={"running_rollout": running},
            )
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
            _close_request(request, PromotionStatus.APPROVED, actor, request.version, approvals=approvals)
            if not rollout.start_rollout(request=request, actor=actor):
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
        request, model = _lock_for_decision(
            actor, request_id, self_refusal="cancel it instead of rejecting it.", self_code="self_decision_forbidden"
        )
        PromotionDecision.objects.create(
            request=request,
            approver=actor,
            verdict=PromotionDecision.Verdict.REJECT,
            comment=comment,
            gate=gate_evaluate(request.version),
        )
        _close_request(request, PromotionStatus.REJECTED, actor, request.version, comment=comment)
    return request


def promotion_cancel(*, actor: User, request_id: int, reason: str = "") -> PromotionRequest:
    if not (roles.user_can(actor, roles.REQUEST_PROMOTION) or roles.user_can(actor, roles.MANAGE_USERS)):
        raise Forbidden("Only the requester (or an admin) can cancel a promotion request.", code="permission_denied")
    with transaction.atomic():
        request, model = _lock_request(request_id)
        if request.requested_by_id != actor.id and not roles.user_can(actor, roles.MANAGE_USERS):
            raise Forbidden("Only the requester (or an admin) can cancel a promotion request.", code="permission_denied")
        _require_pending(request)
        _close_request(request, PromotionStatus.CANCELLED, actor, request.version, reason=reason)
    return request


def promotion_complete(*, request_id: int, reason: str) -> ModelVersion:
    """Make an approved request's version Production: the end of its rollout (a canary
    that passed every step). The approval happened already; this is the system acting."""
    with transaction.atomic():
        request, model = _lock_request(request_id)
        if request.status != PromotionStatus.APPROVED:
            raise Conflict(f"Promotion request #{request.pk} is {request.status}, not approved.", code="promotion_not_approved")
        version = ModelVersion.objects.select_for_update().get(pk=request.version_id)
        version.model = model
        if version.stage == stages.PRODUCTION:
            return version
        if version.stage != stages.STAGING:
            raise Conflict(f"{version} left Staging during its rollout.", code="promotion_stale")
        _make_production(model, version, kind=Kind.PROMOTION, actor=None, reason=reason, request=request)
    return version


def _failing_labels(gate: dict) -> str:
    labels = {c["name"]: c.get("label") or c["name"] for c in gate.get("checks", [])}
    return ", ".join(labels.get(name, name) for name in gate["failing"])
