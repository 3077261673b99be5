"""Registry pages: models, versions, the approvals inbox and promotion requests.

Thin, like the API: reads go through `selectors`, every write through `services`.
A refused write (ServiceError) re-renders the page it came from with the error's
message and status code; a write that worked redirects back (post/redirect/get).
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from control_plane.errors import ServiceError
from control_plane.roles import (
    CHANGE_STAGE,
    DECIDE_PROMOTION,
    MANAGE_USERS,
    REQUEST_PROMOTION,
    ROLLBACK,
    user_can,
)
from control_plane.views import _int_or_none, or_404, refuse, role_required

from . import rollout, selectors, services, stages
from .gate import gate_evaluate
from .models import PromotionStatus

STAGE_LABELS = dict(stages.STAGE_CHOICES)


def _pairs(mapping) -> list[tuple[str, object]]:
    """A JSON object as sorted (key, value) pairs: templates never look keys up by
    name, so a user's key such as 'items' cannot shadow anything."""
    return sorted(mapping.items()) if isinstance(mapping, dict) else []


# --- Models ---------------------------------------------------------------------------


def _rollback_targets(model, timeline) -> list:
    """Archived versions that were in Production before: what a rollback can restore."""
    seen, targets = set(), []
    for t in timeline:
        if t.to_stage == stages.PRODUCTION and t.version_id not in seen:
            seen.add(t.version_id)
            if t.version.stage == stages.ARCHIVED:
                targets.append(t.version)
    return targets


def _model_page(request, name, *, status=200, posted=None):
    model = or_404(selectors.model_get, name)
    timeline = list(selectors.history(model))
    versions = list(selectors.version_list(model))
    for v in versions:
        v.metric_pairs = _pairs(v.metrics)
    return render(
        request,
        "registry/model_detail.html",
        {
            "model": model,
            "production": selectors.production_version(model),
            "staging": selectors.staging_versions(model),
            "versions": versions,
            "tags": _pairs(model.tags),
            "aliases": list(selectors.model_aliases(model).items()),
            "timeline": timeline,
            "promotions": _with_state(selectors.promotion_list(model_name=model.name)[:20]),
            "can_rollback": user_can(request.user, ROLLBACK),
            "rollback_targets": _rollback_targets(model, timeline),
            "summary": _summary(model),
            "posted": posted or {},
        },
        status=status,
    )


def _summary(model) -> dict:
    """The facts an owner looks for first: what is in Production and since when, the live
    rollout, the latest drift verdict, the pending requests, the last retraining run."""
    from monitoring.models import DriftReport
    from retraining.models import RetrainingRun

    production = selectors.production_version(model)
    latest_drift = (
        DriftReport.objects.filter(model=model, status=DriftReport.Status.SUCCEEDED).order_by("-created_at").first()
    )
    return {
        "production": production,
        "rollout": rollout.model_rollout(model=model),
        "drift": latest_drift,
        "pending": selectors.promotion_list(status=PromotionStatus.PENDING, model_name=model.name).count(),
        "retraining": RetrainingRun.objects.filter(model=model).order_by("-created_at", "-pk").first(),
    }


@role_required
def model_detail(request, name):
    return _model_page(request, name)


@role_required
@require_POST
def model_rollback(request, name):
    try:
        restored = services.model_rollback(
            actor=request.user,
            model_name=name,
            reason=request.POST.get("reason", ""),
            to_version=_int_or_none(request.POST.get("to_version"), "to_version"),
        )
    except ServiceError as exc:
        return _model_page(request, name, status=refuse(request, exc), posted=request.POST)
    messages.success(request, f"Rolled back: {name} v{restored.version} is in Production again.")
    return redirect("model-detail", name=name)


# --- Versions -------------------------------------------------------------------------


def _version_page(request, name, version, *, status=200, posted=None):
    mv = or_404(selectors.version_get, name, version)
    promotions = _with_state(selectors.promotion_list(model_name=name).filter(version=mv))
    pending = next((p for p in promotions if p.status == PromotionStatus.PENDING), None)
    user = request.user
    return render(
        request,
        "registry/version_detail.html",
        {
            "model": mv.model,
            "mv": mv,
            "production_version": selectors.production_version(mv.model),
            "promotions": promotions,
            "pending_request": pending,
            "metrics": _pairs(mv.metrics),
            "params": _pairs(mv.params),
            "tags": _pairs(mv.tags),
            "run_tags": _pairs(mv.run_tags),
            "aliases": selectors.version_aliases(mv),
            "stage_targets": [(s, STAGE_LABELS[s]) for s in stages.direct_targets(mv.stage)]
            if user_can(user, CHANGE_STAGE)
            else [],
            "can_request": user_can(user, REQUEST_PROMOTION) and mv.stage == stages.STAGING and pending is None,
            "posted": posted or {},
        },
        status=status,
    )


@role_required
def version_detail(request, name, version):
    return _version_page(request, name, version)


@role_required
@require_POST
def version_stage(request, name, version):
    stage = request.POST.get("stage", "")
    try:
        mv = services.version_set_stage(
            actor=request.user, model_name=name, version=version, stage=stage, reason=request.POST.get("reason", "")
        )
    except ServiceError as exc:
        return _version_page(request, name, version, status=refuse(request, exc), posted=request.POST)
    messages.success(request, f"{name} v{mv.version} moved to {STAGE_LABELS.get(mv.stage, mv.stage)}.")
    return redirect("version-detail", name=name, version=version)


@role_required
@require_POST
def version_request_promotion(request, name, version):
    try:
        promotion = services.promotion_request(
            actor=request.user, model_name=name, version=version, reason=request.POST.get("reason", "")
        )
    except ServiceError as exc:
        return _version_page(request, name, version, status=refuse(request, exc), posted=request.POST)
    messages.success(
        request,
        f"Promotion request #{promotion.pk} filed; it needs {promotion.required_approvals} approval(s) from someone else.",
    )
    return redirect("promotion-detail", pk=promotion.pk)


# --- Approvals ------------------------------------------------------------------------


@role_required
def inbox(request):
    user = request.user
    can_decide = user_can(user, DECIDE_PROMOTION)
    pending = selectors.promotion_list(status=PromotionStatus.PENDING)
    return render(
        request,
        "registry/inbox.html",
        {
            "can_decide": can_decide,
            "to_decide": _with_state(selectors.promotion_inbox(user) if can_decide else []),
            "mine": _with_state(pending.filter(requested_by=user)),
            # Approvers: open requests they already decided on; others: every open request of others.
            "others": _with_state(
                pending.filter(decisions__approver=user).distinct() if can_decide else pending.exclude(requested_by=user)
            ),
            "recent_closed": _with_state(selectors.promotion_list().exclude(status=PromotionStatus.PENDING)[:20]),
        },
    )


def _with_state(promotions) -> list:
    """Each open request with its gate as evaluated now and why it is stale ('' if not);
    each closed one with what its approval did (rollout.request_outcome)."""
    rows = list(promotions)
    for p in rows:
        if p.status == PromotionStatus.PENDING:
            p.stale_reason = selectors.promotion_stale_reason(p)
            p.gate_now = gate_evaluate(p.version)
        else:
            p.outcome = rollout.request_outcome(request=p)
    return rows


def _stored_time(gate) -> object:
    """The evaluated_at of a gate stored as JSON, as a datetime (None if unreadable)."""
    try:
        return parse_datetime(gate.get("evaluated_at") or "") if isinstance(gate, dict) else None
    except ValueError:
        return None


def _promotion_page(request, pk, *, status=200, posted=None):
    promotion = or_404(selectors.promotion_get, pk)
    user = request.user
    is_pending = promotion.status == PromotionStatus.PENDING
    decisions = list(promotion.decisions.all())
    if is_pending:
        gate = gate_evaluate(promotion.version)
        gate_source = "Evaluated now"
    elif decisions:
        last = decisions[-1]
        gate = last.gate
        gate_source = f"Stored with the decision of {last.approver.username} ({last.created_at:%Y-%m-%d %H:%M} UTC)"
    else:
        gate = promotion.gate
        gate_source = f"Stored when the request was filed ({promotion.created_at:%Y-%m-%d %H:%M} UTC)"
    is_requester = promotion.requested_by_id == user.id
    already_decided = any(d.approver_id == user.id for d in decisions)
    stale_reason = selectors.promotion_stale_reason(promotion)
    running = rollout.running_rollout(model=promotion.model, version=promotion.version) if is_pending else None
    transitions = sorted(promotion.transitions.all(), key=lambda t: (t.created_at, t.id))
    return render(
        request,
        "registry/promotion_detail.html",
        {
            "promotion": promotion,
            "mv": promotion.version,
            "model": promotion.model,
            "decisions": decisions,
            "gate": gate,
            "gate_source": gate_source,
            "gate_evaluated_at": _stored_time(gate),
            "transitions": transitions,
            "is_requester": is_requester,
            "already_decided": already_decided,
            "stale_reason": stale_reason,
            "running_rollout": running,
            "outcome": rollout.request_outcome(request=promotion) if not is_pending else None,
            "can_file_again": bool(stale_reason)
            and promotion.version.stage == stages.STAGING
            and user_can(user, REQUEST_PROMOTION),
            "can_decide": is_pending
            and not stale_reason
            and not is_requester
            and not already_decided
            and user_can(user, DECIDE_PROMOTION),
            "can_cancel": is_pending and (is_requester or user_can(user, MANAGE_USERS)),
            "posted": posted or {},
        },
        status=status,
    )


@role_required
def promotion_detail(request, pk):
    return _promotion_page(request, pk)


def _decide(request, pk, action):
    try:
        promotion = action()
    except ServiceError as exc:
        return _promotion_page(request, pk, status=refuse(request, exc), posted=request.POST)
    if promotion.status == PromotionStatus.APPROVED:
        messages.success(request, _approval_result(promotion))
    elif promotion.status == PromotionStatus.PENDING:
        messages.success(request, "Your approval is recorded; the request needs more approvals.")
    else:
        messages.success(request, f"Promotion request #{promotion.pk} is {promotion.status}.")
    return redirect(reverse("promotion-detail", kwargs={"pk": pk}))


def _approval_result(promotion) -> str:
    """What the approval actually did, from the records it left: a canary it started, or
    the stage change it made."""
    name, number = promotion.model.name, promotion.version.version
    outcome = rollout.request_outcome(request=promotion)
    if outcome is not None:
        return (
            f"Approved: canary of {name} v{number} started at {outcome['first_weight']} % of traffic; "
            f"v{number} stays in Staging until every step passes. Follow it on the deployment page."
        )
    promotion.version.refresh_from_db(fields=["stage"])
    if promotion.version.stage == stages.PRODUCTION:
        return f"Approved: {name} v{number} is now in Production."
    return f"Approved: request #{promotion.pk} is closed; {name} v{number} is in {promotion.version.stage}."


@role_required
@require_POST
def promotion_approve(request, pk):
    return _decide(
        request,
        pk,
        lambda: services.promotion_approve(
            actor=request.user,
            request_id=pk,
            comment=request.POST.get("comment", ""),
            override_reason=request.POST.get("override_reason", ""),
            replace_rollout=request.POST.get("replace_rollout") == "on",
        ),
    )


@role_required
@require_POST
def promotion_reject(request, pk):
    return _decide(
        request,
        pk,
        lambda: services.promotion_reject(actor=request.user, request_id=pk, comment=request.POST.get("comment", "")),
    )


@role_required
@require_POST
def promotion_cancel(request, pk):
    return _decide(
        request,
        pk,
        lambda: services.promotion_cancel(actor=request.user, request_id=pk, reason=request.POST.get("reason", "")),
    )
