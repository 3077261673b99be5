from celery import shared_task

from .journal import events_dispatch


@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_jitter=True, max_retries=5)
def dispatch_events() -> int:
    """Deliver journal events to their consumers; safe to run twice or concurrently."""
    return events_dispatch()
