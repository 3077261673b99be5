from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class PredictionLogManager(models.Manager):
    def bulk_create(self, objs, *args, **kwargs):
        """Every row's day has its partition first (PostgreSQL; log_partitions)."""
        from .log_partitions import ensure_for_timestamps

        objs = list(objs)
        ensure_for_timestamps(obj.ts for obj in objs)
        return super().bulk_create(objs, *args, **kwargs)


class PredictionLog(models.Model):
    """One served prediction (the rule book's log schema, plus variant and deployment).

    Its own table, apart from application logs. Written in bulk by the drain worker (or
    directly in embedded mode); (request_id, model_name, variant, ts) is unique so a retried
    batch (the same records, served at the same time) never duplicates a row. On PostgreSQL
    the table is partitioned by day (log_partitions.py; the primary key there is (id, ts)).
    Nothing else references it: retention drops whole days.
    """

    model_name = models.CharField(max_length=256)
    model_version = models.PositiveIntegerField()
    variant = models.CharField(max_length=32, help_text="champion, challenger, shadow, batch or stream.")
    deployment_id = models.BigIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=128)
    ts = models.DateTimeField(help_text="When the prediction was served (UTC).")
    features = models.JSONField(default=dict)
    prediction = models.JSONField(null=True)
    latency_ms = models.FloatField()
    ground_truth = models.JSONField(null=True, blank=True)
    ground_truth_at = models.DateTimeField(null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    objects = PredictionLogManager()

    class Meta:
        constraints = [
            # request_id first: the index also answers feedback's lookups by request id alone.
            # ts: PostgreSQL wants the partition key in every unique index (log_partitions.py).
            models.UniqueConstraint(fields=["request_id", "model_name", "variant", "ts"], name="prediction_unique_request"),
        ]
        indexes = [
            models.Index(fields=["model_name", "ts"], name="prediction_model_ts"),
            models.Index(fields=["model_name", "model_version", "ts"], name="prediction_model_version_ts"),
            # Appended in time order, so cheap to maintain; serves the purge and the unfiltered list.
            models.Index(fields=["ts"], name="prediction_ts"),
        ]

    def __str__(self) -> str:
        return f"{self.model_name} v{self.model_version} {self.variant} {self.request_id}"


class ReferenceProfile(models.Model):
    """A version's reference data, profiled once (monitoring.drift.profile.profile_build):
    decile edges, bin shares, a bounded sample, category shares, the score distribution,
    the reference metrics and the calibration. Drift jobs read only this, never the data."""

    class Task(models.TextChoices):
        CLASSIFIER = "classifier"
        REGRESSOR = "regressor"

    version = models.OneToOneField("registry.ModelVersion", on_delete=models.CASCADE, related_name="reference_profile")
    profile = models.JSONField(help_text="profile_build's output: plain lists and numbers.")
    n_rows = models.PositiveIntegerField()
    source = models.CharField(max_length=1100, help_text='"upload:<file>", "path:<path>" or "mlflow:<artifact>".')
    task = models.CharField(max_length=16, choices=Task.choices, blank=True, help_text="Empty: no scores.")
    positive_label = models.JSONField(
        null=True, blank=True, help_text="Binary classifiers: the class whose probability is the score."
    )
    label_column = models.CharField(max_length=256, blank=True)
    score_column = models.CharField(max_length=256, blank=True, help_text="Empty: scored with the version's model.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Reference of {self.version} ({self.n_rows} rows)"


DEFAULT_SCHEDULE = "0 3 * * *"  # daily, 03:00 UTC


def default_thresholds() -> dict:
    from .policies import default_thresholds as defaults

    return defaults()


class MonitorPolicy(models.Model):
    """How and when a model's traffic is compared with its reference. The PeriodicTask
    is beat's copy of the schedule, written by the service in the same transaction; the
    task reads this row when it runs."""

    model = models.OneToOneField("registry.RegisteredModel", on_delete=models.CASCADE, related_name="monitor_policy")
    enabled = models.BooleanField(default=True)
    schedule = models.CharField(
        max_length=200, default=DEFAULT_SCHEDULE, help_text='Crontab "minute hour day-of-month month day-of-week", UTC.'
    )
    sample_size = models.PositiveIntegerField(default=10_000, help_text="Rows of the window compared, at most.")
    window_hours = models.PositiveIntegerField(default=24, help_text="A run looks at the last this many hours.")
    thresholds = models.JSONField(default=default_thresholds)
    key_features = models.JSONField(default=list, blank=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "monitor policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(sample_size__gte=100) & Q(sample_size__lte=1_000_000), name="monitor_sample_size_range"
            ),
            models.CheckConstraint(
                condition=Q(window_hours__gte=1) & Q(window_hours__lte=24 * 90), name="monitor_window_hours_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Monitor policy of {self.model}"


class DriftReport(models.Model):
    """One drift run: a sample of the window's traffic against the version's reference."""

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Severity(models.TextChoices):
        NONE = "none"
        MODERATE = "moderate"
        MAJOR = "major"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"
        MANUAL = "manual"

    model = models.ForeignKey("registry.RegisteredModel", on_delete=models.CASCADE, related_name="drift_reports")
    version = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="drift_reports"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    severity = models.CharField(max_length=16, choices=Severity.choices, null=True, blank=True)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    sample_size = models.PositiveIntegerField(default=0, help_text="Rows actually compared.")
    features = models.JSONField(default=list, blank=True)
    prediction = models.JSONField(null=True, blank=True)
    performance = models.JSONField(null=True, blank=True)
    drifted_features = models.JSONField(default=list, blank=True)
    thresholds = models.JSONField(default=dict, blank=True, help_text="The thresholds this run judged with.")
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Stamped while a worker computes it.")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["model", "created_at"], name="drift_report_model_time")]
        constraints = [
            models.CheckConstraint(condition=Q(window_start__lt=F("window_end")), name="drift_window_ordered"),
            models.CheckConstraint(
                condition=Q(status="succeeded", severity__isnull=False) | (~Q(status="succeeded") & Q(severity=None)),
                name="drift_severity_when_succeeded",
            ),
        ]

    def __str__(self) -> str:
        return f"Drift report #{self.pk} of {self.model} ({self.status})"
