"""A real Celery worker killed (SIGKILL) in the middle of a delivery: after a new
worker starts, every event reaches the receiver, each delivery is recorded once, and
a request the dead worker had already sent comes again with the same webhook-id."""

import subprocess
import sys
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection

from control_plane.celery import app as celery_app
from control_plane.models import Event, EventConsumption
from notifications.delivery import deliveries_requeue_stale
from notifications.models import Delivery
from notifications.signing import verify
from registry import services as registry
from tests.processes import process_env, stop_processes, wait_for

from .conftest import WEBHOOK_SECRET, make_channel

pytestmark = pytest.mark.worker




@pytest.fixture
def start_worker(transactional_db, monkeypatch):
    """start_worker() -> a `celery worker` process on the test database and test queue."""
    env = process_env(
        CELERY_TASK_ALWAYS_EAGER="false",
        NOTIFY_HTTP_TIMEOUT="120",  # the receiver is slow on purpose; the kill comes first
        NOTIFY_RETRY_BASE_SECONDS="0",
        PUBLIC_BASE_URL=settings.PUBLIC_BASE_URL,
    )
    monkeypatch.setitem(celery_app.conf, "CELERY_TASK_ALWAYS_EAGER", False)
    procs = []

    def start():
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "control_plane", "worker", "--pool=solo", "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        procs.append(proc)
        return proc

    yield start
    stop_processes(procs, timeout=20)
    connection.close()


def test_a_worker_killed_mid_delivery_loses_no_event_and_records_each_once(start_worker, admin, contributor, receiver):
    receiver.hold = True  # the first request waits: the worker is inside the delivery when killed
    channel = make_channel(admin, "webhook", receiver.url, events=["model.created"])
    first = start_worker()
    names = ["crash-1", "crash-2", "crash-3"]
    for name in names:
        registry.model_create(actor=contributor, name=name)

    assert receiver.arrived.wait(90), "the first worker never started a delivery"
    first.kill()  # SIGKILL: no cleanup, the task message stays unacknowledged
    first.wait(10)
    start_worker()

    def all_delivered():
        # The beat sweep, run now instead of in NOTIFY_STALE_SECONDS.
        deliveries_requeue_stale(older_than=timedelta(0))
        return Delivery.objects.filter(channel=channel, status="succeeded").count() == len(names)

    assert wait_for(all_delivered, timeout=90, interval=2.0), list(
        Delivery.objects.filter(channel=channel).values("id", "status", "attempt_count", "last_error")
    )
    events = list(Event.objects.filter(type="model.created", model_name__in=names))
    deliveries = list(Delivery.objects.filter(channel=channel))
    assert sorted(d.event_id for d in deliveries) == sorted(e.id for e in events)  # one per event and channel
    assert all(d.attempts.filter(status="succeeded").count() == 1 for d in deliveries)
    assert EventConsumption.objects.filter(consumer="notifications", event__in=events).count() == len(events)

    seen = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert sorted(seen) == sorted(str(d.pk) for d in deliveries)  # every event reached the receiver
    for request in receiver.requests:
        verify(secret=WEBHOOK_SECRET, headers=request.headers, body=request.body)
    # The request in flight when the worker died never got its answer to the worker, so
    # it is sent again: same webhook-id, same body, so the receiver can drop the repeat.
    # Nothing else repeats.
    in_flight = receiver.requests[0].headers["webhook-id"]
    assert {msg_id: n for msg_id, n in seen.items() if n > 1} == {in_flight: 2}
    assert len({r.body for r in receiver.requests if r.headers["webhook-id"] == in_flight}) == 1
