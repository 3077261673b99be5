import socket

from celery import shared_task
from django.db import DatabaseError

from .drain import drain_until_empty
from .prediction_log import active_backend
from .services import predictions_purge

DRAIN_TASK_SECONDS = 50  # beat runs the drain every 60 s; one run never outlives the next


@shared_task(ignore_result=True)
def drain_predictions() -> int:
    """Backstop for the `drain_predictions` command: drain the stream until it is empty.
    A no-op when the log is written directly. The next beat run retries a failed one."""
    if active_backend() != "redis":
        return 0
    return drain_until_empty(consumer=f"celery-{socket.gethostname()}", max_seconds=DRAIN_TASK_SECONDS)


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=True, retry_jitter=True, max_retries=5)
def purge_predictions() -> int:
    """Delete prediction log rows older than PREDICTION_RETENTION_DAYS; safe to run twice."""
    return predictions_purge()
