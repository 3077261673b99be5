"""Sending one delivery: one attempt, recorded, and the channel's health kept.

Exactly one sender per delivery: the attempt runs inside a transaction that holds the
delivery row with SELECT ... FOR UPDATE SKIP LOCKED and only takes it while it is
pending. The row lock is the lease: it lasts exactly as long as the sender's database
session, so a worker killed mid-send frees the row at once and nothing has to guess a
timeout, while a second task for the same delivery (a retry, a sweep) skips it. What
a killed worker had sent may arrive again; it carries the same `webhook-id`.
"""

import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from control_plane.journal import event_append

from .messages import notice_for
from .models import AttemptStatus, Channel, Delivery, DeliveryAttempt, DeliveryStatus
from .transports import TransportError, transport_for

MAX_BACKOFF_SECONDS = 3600
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    status: str  # a DeliveryStatus, or "not_pending" when another sender has it or it is done
    retry_in: float | None = None


def backoff_seconds(attempt: int, *, retry_after: float = 0) -> float:
    """Exponential backoff with jitter: base * 2^(attempt-1), drawn from its upper half."""
    ceiling = min(MAX_BACKOFF_SECONDS, settings.NOTIFY_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    return max(retry_after, random.uniform(ceiling / 2, ceiling))


def _target(delivery: Delivery) -> tuple[str, dict]:
    if delivery.channel_id is not None:
        return delivery.channel.kind, delivery.channel.config
    return "email", {"addresses": [delivery.recipient.email]}


def delivery_attempt(*, delivery_id: int, retry: bool = True, force: bool = False) -> Outcome:
    """Make the next attempt at a pending delivery. `retry=False` turns a transient
    error into a final failure (the test message); `force` sends to a disabled channel."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "channel", "recipient")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING)
            .first()
        )
        if delivery is None:
            return Outcome("not_pending")
        channel = delivery.channel
        if channel is not None and not channel.enabled and not force:
            return _finish(delivery, DeliveryStatus.SKIPPED, "The channel is disabled.")
        if delivery.recipient_id is not None and not delivery.recipient.email:
            return _finish(delivery, DeliveryStatus.SKIPPED, "The recipient has no email address any more.")

        kind, config = _target(delivery)
        started = time.monotonic()
        prepared, code, error = _send(kind, config, delivery)
        duration_ms = int((time.monotonic() - started) * 1000)

        number = delivery.attempt_count + 1
        if error is None:
            attempt_status = AttemptStatus.SUCCEEDED
        else:
            attempt_status = AttemptStatus.PERMANENT_ERROR if error.permanent else AttemptStatus.TRANSIENT_ERROR
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            status=attempt_status,
            response_code=code,
            error=error.message if error else "",
            duration_ms=duration_ms,
            payload=prepared,
        )
        delivery.attempt_count = number
        if channel is not None:
            _record_health(channel, error)
        if error is None:
            return _finish(delivery, DeliveryStatus.SUCCEEDED, "")
        if error.permanent or not retry or number >= settings.NOTIFY_MAX_ATTEMPTS:
            return _finish(delivery, DeliveryStatus.FAILED, error.message)
        delay = backoff_seconds(number, retry_after=error.retry_after)
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        delivery.last_error = error.message
        delivery.save(update_fields=["attempt_count", "next_attempt_at", "last_error"])
        return Outcome(DeliveryStatus.PENDING, retry_in=delay)


def _send(kind: str, config: dict, delivery: Delivery) -> tuple[dict, int | None, TransportError | None]:
    """Prepare and send; any exception (a bug, a bad stored config, a header the mail library
    refuses) becomes a permanent TransportError, so it is recorded as an attempt like any other
    failure and the delivery never stays pending without one."""
    prepared: dict = {}
    try:
        transport = transport_for(kind, config)
        prepared = transport.prepare(notice_for(delivery.event), delivery_id=delivery.pk)
        return prepared, transport.send(prepared, delivery_id=delivery.pk), None
    except TransportError as exc:
        return prepared, exc.code, exc
    except Exception as exc:  # noqa: BLE001 - recorded on the attempt, see above
        logger.exception("Delivery %s: the %s transport failed", delivery.pk, kind)
        message = f"Internal error in the {kind} transport: {type(exc).__name__}: {exc}"[:500]
        return prepared, None, TransportError(message, permanent=True)


def _finish(delivery: Delivery, status: str, error: str) -> Outcome:
    delivery.status = status
    delivery.last_error = error
    delivery.finished_at = timezone.now()
    delivery.save(update_fields=["status", "attempt_count", "last_error", "finished_at"])
    return Outcome(status)


def _record_health(channel: Channel, error: TransportError | None) -> None:
    """Success resets the run of permanent failures; NOTIFY_DISABLE_AFTER of them in a
    row disable the channel. Transient errors show as the last error only."""
    channel = Channel.objects.select_for_update().get(pk=channel.pk)
    now = timezone.now()
    if error is None:
        channel.last_success_at = now
        channel.consecutive_permanent_failures = 0
        channel.save(update_fields=["last_success_at", "consecutive_permanent_failures", "updated_at"])
        return
    channel.last_error, channel.last_error_at = error.message, now
    fields = ["last_error", "last_error_at", "updated_at"]
    if error.permanent:
        channel.consecutive_permanent_failures += 1
        fields.append("consecutive_permanent_failures")
        if channel.enabled and channel.consecutive_permanent_failures >= settings.NOTIFY_DISABLE_AFTER:
            channel.enabled = False
            channel.disabled_reason = (
                f"Disabled after {channel.consecutive_permanent_failures} permanent failures in a row; "
                f"last: {error.message}"
            )[:500]
            fields += ["enabled", "disabled_reason"]
            event_append(
                type="channel.disabled",
                actor=None,
                payload={"channel": channel.pk, "name": channel.name, "reason": channel.disabled_reason},
            )
    channel.save(update_fields=fields)


def deliveries_requeue_stale(*, older_than: timedelta, limit: int = 500) -> list[int]:
    """Pending deliveries whose time came more than `older_than` ago and that no sender
    holds: their task was lost (a dead worker's unacknowledged message, a broker
    outage). Enqueue them again; a duplicate task finds the row taken or done."""
    from .routing import deliveries_enqueue

    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now - older_than)
            .order_by("next_attempt_at")
            .values_list("id", flat=True)[:limit]
        )
        # Moving the due time forward bounds the duplicates to one per sweep period.
        Delivery.objects.filter(pk__in=ids).update(next_attempt_at=now)
        transaction.on_commit(lambda: deliveries_enqueue(ids))
    return ids
