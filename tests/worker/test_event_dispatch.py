"""A real Celery worker, on the real Redis broker, dispatching journal events."""

import pytest
from celery import shared_task

from control_plane.journal import register_consumer
from control_plane.models import Event, EventConsumption, TaskRun
from registry import services
from tests.processes import wait_for

pytestmark = pytest.mark.worker


def test_worker_dispatches_journal_events_after_commit(worker, contributor):
    model = services.model_create(actor=contributor, name="dispatch-me")
    event = Event.objects.get(type="model.created", model_name=model.name)

    handled = wait_for(lambda: EventConsumption.objects.filter(event=event, consumer="log").exists())

    assert handled, "the worker never recorded the event as handled by the log consumer"
    assert EventConsumption.objects.filter(event=event, consumer="log").count() == 1
    assert wait_for(
        lambda: TaskRun.objects.filter(name="control_plane.tasks.dispatch_events", status="succeeded").exists()
    ), list(TaskRun.objects.values("name", "status", "error"))


def test_events_of_a_rolled_back_change_are_never_dispatched(worker, contributor):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        services.model_create(actor=contributor, name="never-committed")
        raise RuntimeError("abort the change")
    services.model_create(actor=contributor, name="committed")
    committed = Event.objects.get(model_name="committed")

    assert wait_for(lambda: EventConsumption.objects.filter(event=committed).exists())
    assert not Event.objects.filter(model_name="never-committed").exists()


@shared_task(name="tests.always_fails")
def always_fails():
    raise ValueError("broken on purpose")


def test_failed_task_leaves_a_visible_task_row(db):
    result = always_fails.apply()

    assert result.failed()
    run = TaskRun.objects.get(task_id=result.id)
    assert run.status == "failed"
    assert "broken on purpose" in run.error


def test_dispatch_handles_each_event_once_per_consumer(db, contributor):
    seen = []
    register_consumer("test-recorder", lambda event: seen.append(event.id))
    try:
        services.model_create(actor=contributor, name="once-only")
        from control_plane.journal import events_dispatch

        events_dispatch()
        events_dispatch()
    finally:
        from control_plane import journal

        journal._consumers.pop("test-recorder", None)
    ids = list(Event.objects.filter(model_name="once-only").values_list("id", flat=True))
    assert ids and seen.count(ids[0]) == 1
    assert EventConsumption.objects.filter(event_id=ids[0], consumer="test-recorder").count() == 1
