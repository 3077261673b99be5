"""Definitions (entities, feature views, feature services) and materialization runs.

Names are SQL-safe identifiers (checked in the database too): they become column names
of push tables and keys in Redis. Every identifier that reaches SQL is also quoted with
psycopg.sql.Identifier (features.sql_names).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"
FEATURE_TYPES = ("int", "float", "string", "bool", "timestamp")
KEY_TYPES = ("int", "string")


class Entity(models.Model):
    name = models.CharField(max_length=63, unique=True)
    join_keys = models.JSONField(help_text='[{"name": "user_id", "type": "int"}]; types int or string.')
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "entities"
        constraints = [models.CheckConstraint(condition=Q(name__regex=IDENTIFIER), name="feature_entity_name_identifier")]

    def __str__(self) -> str:
        return self.name

    @property
    def key_names(self) -> list[str]:
        return [k["name"] for k in self.join_keys]


class FeatureView(models.Model):
    class SourceKind(models.TextChoices):
        TABLE = "table"
        QUERY = "query"
        PUSH = "push"
        FILE = "file"

    name = models.CharField(max_length=63, unique=True)
    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="views")
    features = models.JSONField(help_text='[{"name": "age", "type": "int"}]; types int, float, string, bool, timestamp.')
    source_kind = models.CharField(max_length=8, choices=SourceKind.choices)
    source_table = models.CharField(max_length=127, blank=True, help_text='"schema.table" (table sources).')
    source_query = models.TextField(blank=True, help_text="A read-only SELECT (query sources; admins only).")
    source_path = models.CharField(
        max_length=500, blank=True, help_text="Parquet file(s) under FEATURE_DATA_ROOTS, a glob allowed (file sources)."
    )
    source_connection = models.CharField(
        max_length=63, blank=True, help_text="A name of FEATURE_SOURCE_DATABASES; empty: the control plane's database."
    )
    event_timestamp_column = models.CharField(max_length=63)
    created_timestamp_column = models.CharField(max_length=63, blank=True)
    ttl_seconds = models.PositiveIntegerField()
    tags = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)
    schedule = models.CharField(max_length=64, blank=True, help_text="Crontab (UTC) of incremental materialization.")
    periodic_task = models.ForeignKey(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    watermark = models.DateTimeField(null=True, blank=True, help_text="Online holds every event up to this time.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(name__regex=IDENTIFIER), name="feature_view_name_identifier"),
            models.CheckConstraint(condition=Q(ttl_seconds__gt=0), name="feature_view_ttl_positive"),
            models.CheckConstraint(
                condition=(
                    Q(source_kind="table", source_query="", source_path="") & ~Q(source_table="")
                    | Q(source_kind="query", source_table="", source_path="") & ~Q(source_query="")
                    | Q(source_kind="push", source_table="", source_query="", source_path="", source_connection="")
                    | Q(source_kind="file", source_table="", source_query="", source_connection="") & ~Q(source_path="")
                ),
                name="feature_view_source_consistent",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def feature_names(self) -> list[str]:
        return [f["name"] for f in self.features]


class FeatureService(models.Model):
    """A named, versioned list of `view:feature` references. Versions are immutable: a
    change to the list is a new version, so a model version keeps what it was trained on."""

    class OnMissing(models.TextChoices):
        REFUSE = "refuse", "Refuse the request (422 naming the features)"
        NULL = "null", "Pass null where the model's schema allows it"

    name = models.CharField(max_length=63)
    version = models.PositiveIntegerField()
    features = models.JSONField(help_text='["view:feature", ...]')
    on_missing = models.CharField(max_length=8, choices=OnMissing.choices, default=OnMissing.REFUSE)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="feature_service_unique_version"),
            models.CheckConstraint(condition=Q(name__regex=IDENTIFIER), name="feature_service_name_identifier"),
            models.CheckConstraint(condition=Q(version__gte=1), name="feature_service_version_positive"),
        ]
        ordering = ["name", "-version"]

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"


class MaterializationRun(models.Model):
    class Kind(models.TextChoices):
        INCREMENTAL = "incremental"
        BACKFILL = "backfill"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    view = models.ForeignKey(FeatureView, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    window_start = models.DateTimeField(null=True, blank=True, help_text="Exclusive; empty: from the first event.")
    window_end = models.DateTimeField(help_text="Inclusive.")
    cursor = models.JSONField(null=True, blank=True, help_text="The last entity key written: a resumed run goes on after it.")
    keys_written = models.PositiveBigIntegerField(default=0)
    keys_total = models.PositiveBigIntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["view"], condition=Q(status__in=["queued", "running"]), name="materialization_one_active_per_view"
            ),
            models.CheckConstraint(
                condition=Q(window_start__isnull=True) | Q(window_start__lt=models.F("window_end")),
                name="materialization_window_ordered",
            ),
        ]
        indexes = [models.Index(fields=["view", "-created_at"], name="materialization_view_recent")]

    def __str__(self) -> str:
        return f"{self.view.name} {self.kind} #{self.pk}"

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        return ((self.finished_at or timezone.now()) - self.started_at).total_seconds()


class HistoricalJob(models.Model):
    """A historical retrieval run by a worker (a big frame, or ?async=true). The entity frame
    is saved under FEATURE_HISTORICAL_JOBS_DIR before the 202; the output is written there."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    features = models.JSONField(null=True, blank=True, help_text='The request\'s "view:feature" list, if any.')
    feature_service = models.CharField(max_length=140, blank=True)
    output_format = models.CharField(max_length=8, choices=[("csv", "csv"), ("parquet", "parquet")])
    input_path = models.CharField(max_length=1000, help_text="The saved entity frame (server data dir).")
    output_path = models.CharField(max_length=1000, help_text="Where the worker writes the answer (server data dir).")
    rows_total = models.BigIntegerField(null=True, blank=True)
    rows_done = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Stamped while a worker runs it.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"], name="historical_job_status")]

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    def __str__(self) -> str:
        return f"historical job {self.pk} {self.status}"


HISTORICAL_JOB_STATUSES = HistoricalJob.Status.choices  # named in the OpenAPI schema (ENUM_NAME_OVERRIDES)
