"""One delivery per event and target (held by the database), one sender per delivery
(held by a row lock), and the sweep that re-enqueues deliveries whose task was lost."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from control_plane.journal import events_dispatch
from control_plane.models import Event
from notifications.delivery import backoff_seconds, deliveries_requeue_stale, delivery_attempt
from notifications.models import Delivery
from registry import services as registry

from .conftest import make_channel


@pytest.mark.django_db
def test_the_database_refuses_a_second_delivery_for_the_same_event_and_target(admin, contributor):
    channel = make_channel(admin, "email", ["ops@example.com"])
    event = Event.objects.get(type="channel.created")
    Delivery.objects.create(event=event, channel=channel)
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(event=event, channel=channel)
    Delivery.objects.create(event=event, recipient=contributor)
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(event=event, recipient=contributor)
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(event=event)  # no target
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(event=event, channel=channel, recipient=admin)  # two targets


@pytest.mark.django_db(transaction=True)
def test_a_delivery_being_sent_is_not_sent_by_a_second_worker(admin, contributor, receiver):
    receiver.hold = True
    # Commits run their callbacks here (eager tasks), so the delivery is made by hand:
    # the channel's subscription matches nothing that happens in this test.
    channel = make_channel(admin, "webhook", receiver.url, events=["promotion.requested"])
    registry.model_create(actor=contributor, name="contended")
    delivery = Delivery.objects.create(event=Event.objects.get(type="model.created"), channel=channel)
    outcomes = []

    def first_worker():
        try:
            outcomes.append(delivery_attempt(delivery_id=delivery.pk))
        finally:
            connection.close()

    thread = threading.Thread(target=first_worker)
    thread.start()
    assert receiver.arrived.wait(30), "the first worker never reached the receiver"

    second = delivery_attempt(delivery_id=delivery.pk)
    receiver.release.set()
    thread.join(30)

    assert second.status == "not_pending"
    assert [o.status for o in outcomes] == ["succeeded"]
    assert len(receiver.requests) == 1
    assert Delivery.objects.get(pk=delivery.pk).attempts.count() == 1
    # Once done, any later task for it does nothing.
    assert delivery_attempt(delivery_id=delivery.pk).status == "not_pending"


@pytest.mark.django_db
def test_the_sweep_enqueues_pending_deliveries_whose_task_was_lost(admin, contributor, receiver, run_commits):
    channel = make_channel(admin, "slack", receiver.url, events=["model.created"])
    registry.model_create(actor=contributor, name="lost-task")
    registry.model_create(actor=contributor, name="not-due")
    events_dispatch()  # routed; the enqueue (an on-commit callback) never runs, as if the broker lost it
    Delivery.objects.filter(event__model_name="not-due").update(next_attempt_at=timezone.now() + timedelta(hours=1))

    assert deliveries_requeue_stale(older_than=timedelta(minutes=5)) == []  # not stale yet
    with run_commits():
        requeued = deliveries_requeue_stale(older_than=timedelta(0))

    lost = Delivery.objects.get(channel=channel, event__model_name="lost-task")
    assert requeued == [lost.pk]
    lost.refresh_from_db()
    assert lost.status == "succeeded" and len(receiver.requests) == 1
    assert Delivery.objects.get(event__model_name="not-due").status == "pending"


@pytest.mark.django_db
def test_a_transient_failure_schedules_the_next_try_with_backoff(admin, contributor, receiver, settings):
    settings.NOTIFY_RETRY_BASE_SECONDS = 30
    receiver.script = [503]
    channel = make_channel(admin, "slack", receiver.url, events=["model.created"])
    registry.model_create(actor=contributor, name="later")
    events_dispatch()
    delivery = Delivery.objects.get(channel=channel)

    outcome = delivery_attempt(delivery_id=delivery.pk)

    assert outcome.status == "pending" and 15 <= outcome.retry_in <= 30
    delivery.refresh_from_db()
    attempt = delivery.attempts.get()
    assert (delivery.attempt_count, delivery.last_error) == (1, "HTTP 503 Service Unavailable")
    assert delivery.next_attempt_at >= attempt.created_at + timedelta(seconds=14)


def test_backoff_doubles_with_jitter_caps_and_honours_retry_after(settings):
    settings.NOTIFY_RETRY_BASE_SECONDS = 10
    for attempt, (low, high) in {1: (5, 10), 2: (10, 20), 4: (40, 80)}.items():
        draws = {backoff_seconds(attempt) for _ in range(50)}
        assert all(low <= d <= high for d in draws) and len(draws) > 1  # jittered
    assert backoff_seconds(30) <= 3600
    assert backoff_seconds(1, retry_after=120) == 120
    settings.NOTIFY_RETRY_BASE_SECONDS = 0
    assert backoff_seconds(5) == 0
