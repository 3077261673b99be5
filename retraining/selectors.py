"""Reads shared by the API, the pages and the promotion page."""

from control_plane.errors import NotFound
from registry.models import RegisteredModel
from registry.selectors import model_get  # noqa: F401  (re-exported: the pages and the API read models here)

from .models import ReplayJob, RetrainingPolicy, RetrainingRun


def runs_of(model: RegisteredModel):
    return RetrainingRun.objects.filter(model=model).select_related(
        "model", "version", "champion", "requested_by", "promotion_request"
    ).prefetch_related("steps")


def run_get(run_id: int) -> RetrainingRun:
    run = (
        RetrainingRun.objects.select_related("model", "version", "champion", "requested_by", "promotion_request", "policy")
        .prefetch_related("steps")
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        raise NotFound(f"Retraining run {run_id} does not exist.", code="run_not_found")
    return run


def policy_of(model: RegisteredModel) -> RetrainingPolicy | None:
    return RetrainingPolicy.objects.select_related("owner", "periodic_task").filter(model=model).first()


def replay_get(job_id: int) -> ReplayJob:
    job = ReplayJob.objects.select_related("model", "version", "champion").filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"Replay job {job_id} does not exist.", code="replay_not_found")
    return job


def run_for_request(request_id: int) -> RetrainingRun | None:
    """The pipeline run that filed a promotion request, with its evaluation."""
    return RetrainingRun.objects.select_related("version").filter(promotion_request_id=request_id).first()
