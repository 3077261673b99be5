"""From journal events to deliveries: the "notifications" journal consumer.

The journal hands each event to `event_route` once, inside the transaction that
records it as handled (control_plane.journal.events_dispatch). Here it becomes one
Delivery row per target, and the delivery tasks are enqueued after that commit. A
worker that dies before the commit leaves the event unhandled (it is routed again);
one that dies after leaves pending deliveries (the periodic sweep enqueues them).
The unique (event, target) pairs make a second routing of an event a no-op.

Targets are the enabled channels subscribed to the event's type and model, and, by
the built-in approver rule, for `promotion.requested`: every active user who can
decide promotions (group approver, or admin) and has an email address, except the
requester. There is no per-model approver list in the registry, so every approver
is an approver of every model. These deliveries have a `recipient` instead of a
channel; nothing has to be configured for them (NOTIFY_APPROVER_EMAILS=false turns
the rule off).
"""

import logging

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q

from control_plane.models import Event
from control_plane.roles import ADMIN, APPROVER

from .models import Channel, Delivery, DeliveryStatus

log = logging.getLogger("notifications")

APPROVER_RULE_EVENTS = frozenset({"promotion.requested"})
TEST_EVENT = "channel.tested"


def approvers_to_notify(event: Event) -> list[User]:
    if not settings.NOTIFY_APPROVER_EMAILS or event.type not in APPROVER_RULE_EVENTS:
        return []
    users = (
        User.objects.filter(is_active=True)
        .filter(Q(groups__name__in=[APPROVER, ADMIN]) | Q(is_superuser=True))
        .exclude(email="")
        .distinct()
    )
    if event.actor_id is not None:
        users = users.exclude(pk=event.actor_id)
    return list(users)


def event_route(event: Event) -> None:
    """Journal consumer: create this event's deliveries; enqueue them after commit."""
    if event.type == TEST_EVENT:  # sent to the channel under test only, by channel_test_send
        return
    targets = [
        Delivery(event=event, channel=channel)
        for channel in Channel.objects.filter(enabled=True)
        if channel.subscribes_to(event.type, event.model_name)
    ]
    targets += [Delivery(event=event, recipient=user) for user in approvers_to_notify(event)]
    if not targets:
        return
    Delivery.objects.bulk_create(targets, ignore_conflicts=True)
    ids = list(
        Delivery.objects.filter(event=event, status=DeliveryStatus.PENDING, attempt_count=0).values_list("id", flat=True)
    )
    transaction.on_commit(lambda: deliveries_enqueue(ids))


def deliveries_enqueue(ids: list[int]) -> None:
    from .tasks import deliver

    for delivery_id in ids:
        try:
            deliver.delay(delivery_id)
        except Exception:  # broker down: the rows stay pending and the sweep enqueues them
            log.warning("Could not enqueue delivery %s; the sweep will.", delivery_id, exc_info=True)
