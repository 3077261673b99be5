"""Channels, and the deliveries of journal events to them.

A Delivery is one message about one event to one target. The database holds the
"at most once per event and target" rule: a unique pair (event, channel) for
configured channels and (event, recipient) for the built-in approver emails. Each
try at sending it is a DeliveryAttempt, with what was sent and what came back.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from control_plane.models import Event


class ChannelKind(models.TextChoices):
    EMAIL = "email"
    SLACK = "slack"
    WEBHOOK = "webhook"


class Channel(models.Model):
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    name = models.CharField(max_length=100, unique=True)
    # Holds the secrets (Slack URL, webhook secret): read it only through notifications.config.
    config = models.JSONField(default=dict)
    events = models.JSONField(default=list, blank=True, help_text="Event types; empty means every type.")
    model_names = models.JSONField(default=list, blank=True, help_text="Model names; empty means every model.")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_permanent_failures = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ChannelKind.values), name="channel_kind_known"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def subscribes_to(self, event_type: str, model_name: str) -> bool:
        return (not self.events or event_type in self.events) and (
            not self.model_names or model_name in self.model_names
        )


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # the channel was disabled before the message could go out


class Delivery(models.Model):
    """One event to one target: a channel, or a user (the built-in rule that mails each
    approver the promotion requests, with nothing to configure). Exactly one of
    channel / recipient is set; either way the pair with the event is unique."""

    event = models.ForeignKey(Event, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["event", "channel"], condition=Q(channel__isnull=False), name="one_delivery_per_event_channel"
            ),
            models.UniqueConstraint(
                fields=["event", "recipient"],
                condition=Q(recipient__isnull=False),
                name="one_delivery_per_event_recipient",
            ),
            models.CheckConstraint(
                condition=Q(channel__isnull=False, recipient__isnull=True)
                | Q(channel__isnull=True, recipient__isnull=False),
                name="delivery_has_one_target",
            ),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_pending_due"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} of event {self.event_id}"


class AttemptStatus(models.TextChoices):
    SUCCEEDED = "succeeded"
    TRANSIENT_ERROR = "transient_error"
    PERMANENT_ERROR = "permanent_error"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=AttemptStatus.choices)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField()
    payload = models.JSONField(help_text="What was sent (secrets excluded).")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_per_number")]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
