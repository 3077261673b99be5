from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from registry.models import ModelVersion, RegisteredModel

DEFAULT_STEPS = [5, 20, 50, 100]


def default_steps() -> list[int]:
    return list(DEFAULT_STEPS)


def default_analysis() -> dict:
    return {
        "max_error_rate_increase": 0.01,  # challenger error rate may exceed the champion's by this much
        "max_p99_latency_ratio": 1.5,  # challenger p99 / champion p99 ...
        "min_p99_increase_ms": 5.0,  # ... and slower by more than this
        "max_score_psi": 0.25,  # shift between their score distributions
        # Per variant, before a step is judged: PSI over 10 bins on n samples of one
        # distribution is about 18 / n by chance alone, so small steps judge noise.
        "min_requests": 500,
    }


class Deployment(models.Model):
    """How a model's traffic is served. One live deployment per model (active or
    paused); finished ones stay as history."""

    class Strategy(models.TextChoices):
        SINGLE = "single"
        SHADOW = "shadow"
        CANARY = "canary"
        BLUE_GREEN = "blue_green"

    class State(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"
        COMPLETED = "completed"
        ROLLED_BACK = "rolled_back"
        ABORTED = "aborted"
        REPLACED = "replaced"

    LIVE_STATES = (State.ACTIVE, State.PAUSED)

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="deployments")
    strategy = models.CharField(max_length=16, choices=Strategy.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    champion = models.ForeignKey(ModelVersion, null=True, on_delete=models.PROTECT, related_name="+")
    challenger = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Share of traffic (percent) the challenger answers: canary steps, or 0/100 for blue/green.
    challenger_weight = models.PositiveSmallIntegerField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    steps = models.JSONField(default=default_steps)
    current_step = models.SmallIntegerField(default=-1, help_text="Index into steps; -1 before the first.")
    step_seconds = models.PositiveIntegerField(default=600)
    step_started_at = models.DateTimeField(null=True, blank=True)
    analysis = models.JSONField(default=default_analysis)
    promotion_request = models.ForeignKey(
        "registry.PromotionRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["model"], condition=Q(state__in=["active", "paused"]), name="one_live_deployment_per_model"
            ),
            models.CheckConstraint(condition=Q(challenger_weight__lte=100), name="weight_at_most_100"),
        ]

    def __str__(self) -> str:
        return f"{self.model.name}: {self.strategy} ({self.state})"


class CanaryAnalysis(models.Model):
    """The result of analysing one canary step: the timeline and the gate's evidence."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="analyses")
    step = models.SmallIntegerField()
    challenger_weight = models.PositiveSmallIntegerField()
    decision = models.CharField(max_length=8)  # pass, fail, wait
    failed_metric = models.CharField(max_length=32, blank=True)
    metrics = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]


class RollbackDrill(models.Model):
    """A check that the rollback target (the current Production version) still loads and
    scores: the gate's evidence for "rollback path tested"."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="rollback_drills")
    target = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    ok = models.BooleanField()
    detail = models.TextField()
    duration_ms = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]


class BatchJob(models.Model):
    """Scoring a whole file (CSV or Parquet) with one version, chunk by chunk. Progress
    is committed per chunk with the chunk's part file, so a restarted task resumes."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="batch_jobs")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    input_path = models.CharField(max_length=1000)
    input_format = models.CharField(max_length=8)  # csv or parquet
    output_path = models.CharField(max_length=1000)
    errors_path = models.CharField(max_length=1000, blank=True)
    chunk_rows = models.PositiveIntegerField()
    rows_total = models.BigIntegerField(null=True, blank=True)
    rows_done = models.BigIntegerField(default=0, help_text="Rows read so far, scored or invalid.")
    rows_invalid = models.BigIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Stamped while a worker scores it.")
    restarts = models.PositiveSmallIntegerField(default=0, help_text="Resumed after its worker was lost.")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"], name="batchjob_status")]

    @property
    def progress(self) -> float | None:
        """Fraction of rows done, 0 to 1; None before the total is known."""
        if not self.rows_total:
            return 1.0 if self.status == self.Status.SUCCEEDED else None
        return round(min(self.rows_done / self.rows_total, 1.0), 4)

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    def __str__(self) -> str:
        return f"batch {self.pk} {self.model.name} v{self.version.version} {self.status}"
