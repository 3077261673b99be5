from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Event(models.Model):
    """One state change, appended in the transaction that made it. Never updated or
    deleted (PostgreSQL enforces it with a trigger). Model and version are kept as
    plain values so the record outlives what it describes."""

    type = models.CharField(max_length=64, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False
    )
    actor_name = models.CharField(max_length=150, blank=True)
    model_name = models.CharField(max_length=256, blank=True, db_index=True)
    version = models.PositiveIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["model_name", "-id"], name="event_model_recent")]

    def __str__(self) -> str:
        target = f"{self.model_name} v{self.version}" if self.version else self.model_name
        return f"{self.type} {target}".strip()

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise RuntimeError("Journal events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Journal events are append-only.")


class EventConsumption(models.Model):
    """That consumer X has handled event E. The journal stays untouched while each
    consumer (logging now, notifications later) keeps its own progress; the unique
    pair means an event is handled at most once per consumer."""

    event = models.ForeignKey(Event, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    consumer = models.CharField(max_length=64)
    handled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "consumer"], name="one_consumption_per_consumer")]


class TokenScope(models.TextChoices):
    READ = "read", "read-only"
    WRITE = "write", "read-write"


class ApiToken(models.Model):
    """A bearer token. Only a SHA-256 of the secret is kept; the secret is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    # Who made it: the user itself over the API or the pages; empty when an operator
    # issued it with the shell command. A token made by anyone else does not work.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scope = models.CharField(max_length=8, choices=TokenScope.choices, default=TokenScope.WRITE)
    serve_only = models.BooleanField(default=False)
    models_allowed = models.JSONField(default=list, blank=True, help_text="Model names; empty means all.")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def read_only(self) -> bool:
        return self.scope == TokenScope.READ


class IdempotencyRecord(models.Model):
    """The first answer to a POST carrying an Idempotency-Key, replayed for retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=255, help_text="Method and path the key was used on.")
    body_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "scope", "key"], name="one_answer_per_idempotency_key")]


class TaskRun(models.Model):
    """A row per Celery task run, kept from Celery's signals, so failures show without
    reading worker logs."""

    class Status(models.TextChoices):
        STARTED = "started"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        RETRYING = "retrying"

    task_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices)
    attempts = models.PositiveIntegerField(default=1)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["status"], condition=Q(status="failed"), name="taskrun_failed")]
