"""Thin tasks: take an id, call a service."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from .delivery import deliveries_requeue_stale, delivery_attempt


@shared_task(bind=True, max_retries=None, acks_late=True)
def deliver(self, delivery_id: int) -> str:
    """One attempt at a delivery; a transient failure retries with the backoff the
    service chose (the attempt cap is NOTIFY_MAX_ATTEMPTS, kept in the database).
    Running it twice, or for a delivery already done, does nothing."""
    outcome = delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task
def requeue_stale_deliveries() -> int:
    """Periodic: enqueue pending deliveries whose task was lost (a dead worker)."""
    return len(deliveries_requeue_stale(older_than=timedelta(seconds=settings.NOTIFY_STALE_SECONDS)))
