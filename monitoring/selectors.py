from datetime import datetime

from django.db.models import QuerySet

from control_plane import token_scope

from .models import PredictionLog


def prediction_list(
    *,
    model_name: str = "",
    version: int | None = None,
    variant: str = "",
    request_id: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    has_ground_truth: bool | None = None,
) -> QuerySet[PredictionLog]:
    """Logged predictions, newest first. `since` is inclusive, `until` exclusive."""
    qs = token_scope.only_allowed(PredictionLog.objects.all(), "model_name")
    if model_name:
        qs = qs.filter(model_name=model_name)
    if version is not None:
        qs = qs.filter(model_version=version)
    if variant:
        qs = qs.filter(variant=variant)
    if request_id:
        qs = qs.filter(request_id=request_id)
    if since is not None:
        qs = qs.filter(ts__gte=since)
    if until is not None:
        qs = qs.filter(ts__lt=until)
    if has_ground_truth is not None:
        qs = qs.filter(ground_truth__isnull=not has_ground_truth)
    return qs.order_by("-ts", "-id")

