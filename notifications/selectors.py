"""Reads shared by the API, the pages and the tasks."""

from django.db.models import QuerySet

from control_plane.errors import NotFound
from control_plane.models import Event

from .messages import KNOWN_EVENT_TYPES
from .models import Channel, Delivery
from .routing import TEST_EVENT


def channel_list() -> QuerySet[Channel]:
    return Channel.objects.order_by("name")


def channel_get(channel_id: int) -> Channel:
    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None:
        raise NotFound(f"Channel {channel_id} does not exist.", code="channel_not_found")
    return channel


def _deliveries() -> QuerySet[Delivery]:
    return Delivery.objects.select_related("event", "channel", "recipient").prefetch_related("attempts").order_by("-id")


def channel_deliveries(channel: Channel) -> QuerySet[Delivery]:
    return _deliveries().filter(channel=channel)


def event_get(event_id: int) -> Event:
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        raise NotFound(f"Event {event_id} does not exist.", code="event_not_found")
    return event


def event_deliveries(event: Event) -> QuerySet[Delivery]:
    return _deliveries().filter(event=event)


def event_type_choices() -> list[str]:
    """Known types first, then any other type the journal has seen; not the test
    message's type, which only ever goes to the channel under test."""
    seen = Event.objects.order_by().values_list("type", flat=True).distinct()
    types = list(KNOWN_EVENT_TYPES) + sorted(set(seen) - set(KNOWN_EVENT_TYPES))
    return [t for t in types if t != TEST_EVENT]
