"""The journal: append events in the writer's transaction, hand them to consumers
after commit.

A consumer is a function taking an Event. Consumers register by name (this app
registers a logging one; notifications will register theirs). The dispatch task
handles, for each consumer, the events it has not handled yet, inside a
transaction that also records the handling, so a worker that dies mid-way leaves
the events pending for the next run and an event is never recorded twice.
"""

import logging
from collections.abc import Callable

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction

from .models import Event, EventConsumption
from .request_context import get_request_id

log = logging.getLogger("control_plane.journal")

Consumer = Callable[[Event], None]
_consumers: dict[str, Consumer] = {}


def register_consumer(name: str, handler: Consumer) -> None:
    _consumers[name] = handler


def consumers() -> dict[str, Consumer]:
    return dict(_consumers)


def event_append(
    *,
    type: str,
    actor: User | AnonymousUser | None,
    model_name: str = "",
    version: int | None = None,
    payload: dict | None = None,
) -> Event:
    """Append one event. Call it inside the transaction that made the change."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_append must run inside the transaction of the change it records.")
    user = actor if actor is not None and actor.is_authenticated else None
    event = Event.objects.create(
        type=type,
        actor=user,
        actor_name=user.get_username() if user else "system",
        model_name=model_name,
        version=version,
        payload=payload or {},
        request_id=get_request_id(),
    )
    transaction.on_commit(_schedule_dispatch)
    return event


def _schedule_dispatch() -> None:
    from .tasks import dispatch_events

    try:
        dispatch_events.delay()
    except Exception:  # the broker may be down; the periodic sweep picks the events up later
        log.warning("Could not enqueue event dispatch; the periodic sweep will deliver.", exc_info=True)


def pending_events(consumer: str, limit: int):
    handled = EventConsumption.objects.filter(consumer=consumer).values("event_id")
    return Event.objects.exclude(id__in=handled).order_by("id")[:limit]


def events_dispatch(*, batch_size: int = 200) -> int:
    """Hand pending events to every consumer. Returns how many handlings were recorded."""
    handled = 0
    for name, handler in consumers().items():
        while True:
            with transaction.atomic():
                batch = list(pending_events(name, batch_size).select_for_update(skip_locked=True, of=("self",)))
                if not batch:
                    break
                for event in batch:
                    handler(event)
                EventConsumption.objects.bulk_create(
                    [EventConsumption(event=e, consumer=name) for e in batch], ignore_conflicts=True
                )
                handled += len(batch)
    return handled


def log_consumer(event: Event) -> None:
    log.info(
        "event %s id=%s model=%s version=%s actor=%s request=%s",
        event.type,
        event.id,
        event.model_name,
        event.version,
        event.actor_name,
        event.request_id,
    )


register_consumer("log", log_consumer)
