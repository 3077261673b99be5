"""Thin Celery tasks: take ids, call a service."""

from celery import shared_task

from control_plane.errors import ServiceError


@shared_task(name="features.tasks.materialize_run", acks_late=True)
def materialize_run(run_id: int) -> None:
    from .services import materialization_execute

    materialization_execute(run_id)


@shared_task(name="features.tasks.materialize_scheduled")
def materialize_scheduled(view_id: int) -> None:
    """Beat's per-view schedule: an incremental run, unless one is already going."""
    from .models import FeatureView
    from .services import materialization_start

    view = FeatureView.objects.filter(pk=view_id).first()
    if view is None:
        return
    try:
        materialization_start(actor=None, view_name=view.name, kind="incremental")
    except ServiceError:  # a run in progress, or nothing new since the watermark
        return


@shared_task(name="features.tasks.resume_stale_runs")
def resume_stale_runs() -> None:
    from .services import resume_stale_runs as resume

    resume()


@shared_task(name="features.tasks.run_historical_job", acks_late=True, reject_on_worker_lost=True)
def run_historical_job(job_id: int) -> dict:
    """A historical job; delivered again when its worker is lost (acks late), it starts over
    from the saved frame."""
    from .services import historical_job_run

    job = historical_job_run(job_id)
    return {"job": job_id, "status": job.status if job else "missing"}
