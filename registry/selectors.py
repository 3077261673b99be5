"""Reads shared by the API, the pages and the tasks."""

from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Count, Max, Prefetch, Q, QuerySet

from control_plane import roles, token_scope
from control_plane.errors import NotFound

from . import stages
from .models import ModelVersion, PromotionRequest, PromotionStatus, RegisteredModel, StageTransition


def model_list(*, search: str = "") -> QuerySet[RegisteredModel]:
    qs = token_scope.only_allowed(RegisteredModel.objects.select_related("owner"))
    qs = qs.prefetch_related(
        Prefetch(
            "versions",
            queryset=ModelVersion.objects.filter(stage__in=[stages.PRODUCTION, stages.STAGING]).order_by("-version"),
            to_attr="live_versions",
        )
    )
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(description__icontains=search))
    # "Updated" means the model or any version's stage changed (a promotion, a rollback).
    return qs.annotate(last_stage_change=Max("transitions__created_at")).order_by("name")


def model_get(name: str) -> RegisteredModel:
    token_scope.require_model(name)
    model = model_list().filter(name=name).first()
    if model is None:
        raise NotFound(f"Model '{name}' does not exist.", code="model_not_found")
    return model


def production_version(model: RegisteredModel) -> ModelVersion | None:
    live = getattr(model, "live_versions", None)
    if live is not None:
        return next((v for v in live if v.stage == stages.PRODUCTION), None)
    return model.versions.filter(stage=stages.PRODUCTION).first()


def staging_versions(model: RegisteredModel) -> list[ModelVersion]:
    live = getattr(model, "live_versions", None)
    if live is not None:
        return [v for v in live if v.stage == stages.STAGING]
    return list(model.versions.filter(stage=stages.STAGING).order_by("-version"))


def version_list(model: RegisteredModel, *, stage: str = "") -> QuerySet[ModelVersion]:
    qs = (
        ModelVersion.objects.filter(model=model)
        .select_related("model", "created_by")
        .prefetch_related("aliases")
        .order_by("-version")
    )
    if stage:
        qs = qs.filter(stage=stage)
    return qs


def version_get(model_name: str, version: int) -> ModelVersion:
    token_scope.require_model(model_name)
    mv = ModelVersion.objects.select_related("model", "created_by").filter(model__name=model_name, version=version).first()
    if mv is None:
        if not RegisteredModel.objects.filter(name=model_name).exists():
            raise NotFound(f"Model '{model_name}' does not exist.", code="model_not_found")
        raise NotFound(f"Model '{model_name}' has no version {version}.", code="version_not_found")
    return mv


def history(model: RegisteredModel) -> QuerySet[StageTransition]:
    return (
        StageTransition.objects.filter(model=model)
        .select_related("version", "actor", "promotion_request")
        .order_by("-created_at", "-id")
    )


def production_at(model: RegisteredModel, at: datetime) -> ModelVersion | None:
    """The version in Production at time `at`: the newest transition into or out of
    Production at or before `at` decides it."""
    last = (
        StageTransition.objects.filter(model=model, created_at__lte=at)
        .filter(Q(to_stage=stages.PRODUCTION) | Q(from_stage=stages.PRODUCTION))
        .select_related("version")
        .order_by("-created_at", "-id")
        .first()
    )
    if last is None or last.to_stage != stages.PRODUCTION:
        return None
    return last.version


def promotion_list(*, status: str = "", model_name: str = "") -> QuerySet[PromotionRequest]:
    qs = token_scope.only_allowed(PromotionRequest.objects, "model__name")
    qs = qs.select_related("model", "version", "requested_by").annotate(
        approvals=Count("decisions", filter=Q(decisions__verdict="approve"))
    )
    if status:
        qs = qs.filter(status=status)
    if model_name:
        qs = qs.filter(model__name=model_name)
    return qs.order_by("-created_at", "-id")


def promotion_get(request_id: int) -> PromotionRequest:
    name = PromotionRequest.objects.filter(pk=request_id).values_list("model__name", flat=True).first()
    if name is not None:
        token_scope.require_model(name)
    request = (
        promotion_list()
        .prefetch_related("decisions__approver", "transitions")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        raise NotFound(f"Promotion request {request_id} does not exist.", code="promotion_not_found")
    return request


def promotion_inbox(user: User) -> QuerySet[PromotionRequest]:
    """Pending requests this user could decide: not their own, not already decided by them."""
    if not roles.user_can(user, roles.DECIDE_PROMOTION):
        return PromotionRequest.objects.none()
    return (
        promotion_list(status=PromotionStatus.PENDING)
        .exclude(requested_by=user)
        .exclude(decisions__approver=user)
    )


def promotion_counts_by_status() -> dict[str, int]:
    counts = dict.fromkeys(PromotionStatus.values, 0)
    for row in PromotionRequest.objects.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def model_aliases(model: RegisteredModel) -> dict[str, int]:
    """Every alias of a model, the production alias included, to its version number."""
    aliases = dict(model.aliases.values_list("alias", "version__version"))
    production = production_version(model)
    if production is not None:
        aliases[settings.PRODUCTION_ALIAS] = production.version
    return dict(sorted(aliases.items()))


def version_aliases(version: ModelVersion) -> list[str]:
    names = [a.alias for a in version.aliases.all()]
    if version.stage == stages.PRODUCTION:
        names.append(settings.PRODUCTION_ALIAS)
    return sorted(names)


def promotion_stale_reason(request: PromotionRequest) -> str:
    """Why a pending request can no longer be approved ('' while it can): its version left
    Staging, or the model got another Production version after it was filed. The approval
    service refuses a stale request with this same reason."""
    if request.status != PromotionStatus.PENDING:
        return ""
    version = request.version
    if version.stage != stages.STAGING:
        label = dict(stages.STAGE_CHOICES).get(version.stage, version.stage)
        return f"v{version.version} has left Staging (it is {label}) since request #{request.pk} was filed."
    current = (
        ModelVersion.objects.filter(model_id=request.model_id, stage=stages.PRODUCTION)
        .values_list("pk", "version")
        .first()
    )
    if (current[0] if current else None) != request.production_version_at_request_id:
        now = f"v{current[1]}" if current else "no version"
        was = request.production_version_at_request
        then = f"v{was.version}" if was else "no version"
        return (
            f"Production changed since request #{request.pk} was filed (then {then}, now {now}); "
            "file a new request so approvers see the current state."
        )
    return ""


def model_last_change(model: RegisteredModel) -> datetime:
    """The later of the model row's own update and its newest stage change."""
    changed = getattr(model, "last_stage_change", None)
    return max(model.updated_at, changed) if changed else model.updated_at
