"""Keep a TaskRun row per Celery task from Celery's signals (the Paperless-ngx way)."""

from celery import signals
from django.db import DatabaseError
from django.utils import timezone

from .models import TaskRun


@signals.task_prerun.connect
def _started(task_id=None, task=None, **_):
    try:
        run, created = TaskRun.objects.get_or_create(
            task_id=task_id, defaults={"name": task.name, "status": TaskRun.Status.STARTED}
        )
        if not created:
            TaskRun.objects.filter(pk=run.pk).update(
                status=TaskRun.Status.STARTED, attempts=run.attempts + 1, finished_at=None
            )
    except DatabaseError:
        pass  # bookkeeping must never stop the task itself


@signals.task_success.connect
def _succeeded(sender=None, **_):
    _finish(sender.request.id, TaskRun.Status.SUCCEEDED, "")


@signals.task_retry.connect
def _retrying(request=None, reason=None, **_):
    _finish(request.id, TaskRun.Status.RETRYING, str(reason))


@signals.task_failure.connect
def _failed(task_id=None, exception=None, **_):
    _finish(task_id, TaskRun.Status.FAILED, f"{type(exception).__name__}: {exception}")


def _finish(task_id: str, status: str, error: str) -> None:
    try:
        TaskRun.objects.filter(task_id=task_id).update(status=status, error=error[:5000], finished_at=timezone.now())
    except DatabaseError:
        pass
