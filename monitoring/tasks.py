import logging
import socket

from celery import shared_task
from django.db import DatabaseError

from . import log_partitions
from .drain import drain_until_empty
from .prediction_log import active_backend
from .services import predictions_purge

logger = logging.getLogger(__name__)
DRAIN_TASK_SECONDS = 50  # beat runs the drain every 60 s; one run never outlives the next


@shared_task(ignore_result=True)
def drain_predictions() -> int:
    """Backstop for the `drain_predictions` command: drain the stream until it is empty.
    A no-op when the log is written directly. The next beat run retries a failed one."""
    if active_backend() != "redis":
        return 0
    return drain_until_empty(consumer=f"celery-{socket.gethostname()}", max_seconds=DRAIN_TASK_SECONDS)


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=True, retry_jitter=True, max_retries=5)
def purge_predictions() -> dict:
    """Delete prediction log rows older than PREDICTION_RETENTION_DAYS; safe to run twice."""
    purged = predictions_purge()
    return {"rows": purged.rows, "partitions": purged.partitions}


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=True, retry_jitter=True, max_retries=5)
def prediction_partitions_ahead() -> list[str]:
    """Create the prediction log's day partitions for the days ahead (PostgreSQL)."""
    return [day.isoformat() for day in log_partitions.ensure_ahead()]


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
)
def drift_run(report_id: int) -> dict:
    """Run a drift report left in "running"; a finished report is left as it is."""
    from .drift_jobs import drift_report_execute

    report = drift_report_execute(report_id=report_id)
    if report is None:
        return {"report": report_id, "status": "missing"}
    return {"report": report_id, "status": report.status, "severity": report.severity}


@shared_task
def drift_run_scheduled(model_id: int) -> dict:
    """Beat's entry point (the PeriodicTask a monitor policy writes): read the policy now,
    skip when it is disabled, else create a report with trigger "schedule" and run it here.
    Not retried: a failure is a failed report, and beat runs it again at the next time."""
    from django_celery_beat.models import PeriodicTask

    from registry.models import RegisteredModel

    from .drift_jobs import drift_report_execute, drift_report_start, drift_reports_fail_abandoned
    from .policies import monitor_policy_get, periodic_task_name

    drift_reports_fail_abandoned()
    model = RegisteredModel.objects.filter(pk=model_id).first()
    if model is None:
        logger.info("Scheduled drift run skipped: model %s no longer exists; its schedule is removed.", model_id)
        PeriodicTask.objects.filter(name=periodic_task_name(model_id)).delete()
        return {"model": model_id, "skipped": "model deleted"}
    policy = monitor_policy_get(model)
    if not policy.enabled:
        logger.info("Scheduled drift run of %s skipped: its monitor policy is disabled.", model.name)
        return {"model": model_id, "skipped": "policy disabled"}
    report = drift_report_start(model=model, trigger="schedule", enqueue=False)
    report = drift_report_execute(report_id=report.pk)
    return {"model": model_id, "report": report.pk, "status": report.status, "severity": report.severity}
