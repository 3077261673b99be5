from celery import shared_task
from django.db import DatabaseError


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(DatabaseError,), retry_backoff=True,
             retry_jitter=True, max_retries=3)
def run_step(run_id: int, name: str) -> None:
    """Run one pipeline step; a finished step or run is left as it is (safe to run twice)."""
    from .pipeline import step_execute

    step_execute(run_id=run_id, name=name)


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(DatabaseError,), retry_backoff=True,
             retry_jitter=True, max_retries=3)
def run_replay(job_id: int) -> dict:
    """Run or resume a replay job from its last committed chunk."""
    from .replay import replay_job_run

    job = replay_job_run(job_id)
    return {"job": job_id, "status": job.status if job else "missing"}


@shared_task
def retraining_scheduled(model_id: int) -> dict:
    """Beat's entry point for a policy's schedule: the trigger decides (and journals) the rest."""
    from .triggers import scheduled

    run = scheduled(model_id)
    return {"model": model_id, "run": run.pk if run else None}


@shared_task
def check_volume_triggers() -> list[int]:
    from .triggers import check_volume_triggers as check

    return check()


@shared_task
def recover_stale_jobs() -> dict:
    """Every minute: steps, replays, drift reports, batch and historical jobs whose worker stopped beating
    are retried (resumed) or failed, never left running."""
    from features.services import historical_jobs_fail_stale
    from monitoring.drift_jobs import drift_reports_fail_stale
    from serving.batch_services import batch_jobs_recover_stale

    from .replay import replay_jobs_recover_stale
    from .services import stale_steps_sweep

    return {
        "steps": stale_steps_sweep(),
        "replays": replay_jobs_recover_stale(),
        "drift_reports": drift_reports_fail_stale(),
        "batch_jobs": batch_jobs_recover_stale(),
        "historical_jobs": historical_jobs_fail_stale(),
    }
