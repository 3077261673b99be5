from celery import shared_task

from .rollouts import canary_tick


@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_jitter=True, max_retries=3)
def canary_analysis_tick() -> dict:
    """Move every canary whose step time is up: next step, completion, or rollback."""
    return canary_tick()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_batch_job(job_id: int) -> dict:
    """Score a batch job, or resume it from its last committed chunk after a worker was
    lost (the message is delivered again: acks late, rejected on worker loss)."""
    from .batch_services import batch_job_run

    job = batch_job_run(job_id)
    if job is None:
        return {"job": job_id, "status": "missing"}
    return {"job": job_id, "status": job.status, "rows_done": job.rows_done}
