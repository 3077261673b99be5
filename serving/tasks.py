from celery import shared_task

from .rollouts import canary_tick


@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_jitter=True, max_retries=3)
def canary_analysis_tick() -> dict:
    """Move every canary whose step time is up: next step, completion, or rollback."""
    return canary_tick()
