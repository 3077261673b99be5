"""Retraining: a policy per model (who trains, what fires a run, how a challenger is
judged), the runs it starts, their steps, and replay jobs (any version scored offline on
logged traffic and compared with the champion)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

STEP_NAMES = ("check", "train", "evaluate", "stage", "notify")


class TriggerKind(models.TextChoices):
    SCHEDULE = "schedule"
    DRIFT = "drift"
    PERFORMANCE = "performance"
    VOLUME = "volume"
    MANUAL = "manual"


class RetrainingPolicy(models.Model):
    """How a model is retrained. `trainer` and `triggers` are validated JSON (policies.py);
    the schedule's beat copy is a django-celery-beat PeriodicTask written with the policy."""

    model = models.OneToOneField("registry.RegisteredModel", on_delete=models.CASCADE, related_name="retraining_policy")
    enabled = models.BooleanField(default=True)
    trainer = models.JSONField(default=dict, help_text="{kind: python|mlflow_project|external, ...}")
    triggers = models.JSONField(default=dict, blank=True, help_text="{schedule?, drift?, performance?, volume?}")
    cooldown_hours = models.PositiveIntegerField(default=24)
    max_runs_per_day = models.PositiveIntegerField(default=2)
    evaluation = models.JSONField(default=dict, help_text="{metric, min_improvement, holdout}")
    start_shadow = models.BooleanField(default=False)
    window_days = models.PositiveIntegerField(default=30, help_text="Training data: the last this many days of the log.")
    dataset_uri = models.CharField(max_length=1000, blank=True, help_text="Passed to the trainer untouched.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "retraining policies"
        constraints = [
            models.CheckConstraint(condition=Q(cooldown_hours__lte=24 * 30), name="retrain_cooldown_range"),
            models.CheckConstraint(
                condition=Q(max_runs_per_day__gte=1) & Q(max_runs_per_day__lte=100), name="retrain_max_runs_range"
            ),
            models.CheckConstraint(
                condition=Q(window_days__gte=1) & Q(window_days__lte=365), name="retrain_window_days_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Retraining policy of {self.model}"


class RetrainingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        SKIPPED = "skipped"
        FAILED = "failed"
        CANCELLED = "cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.SKIPPED, Status.FAILED, Status.CANCELLED)

    class Verdict(models.TextChoices):
        STAGED = "staged", "beats the champion: staged, promotion requested"
        NOT_BETTER = "not_better", "does not beat the champion: registered, not staged"
        NO_NEED = "no_need", "skipped: no need"
        FAILED = "failed"
        CANCELLED = "cancelled"

    model = models.ForeignKey("registry.RegisteredModel", on_delete=models.CASCADE, related_name="retraining_runs")
    policy = models.ForeignKey(RetrainingPolicy, null=True, on_delete=models.SET_NULL, related_name="runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=TriggerKind.choices)
    evidence = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True, max_length=10000)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    champion = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="retraining_runs"
    )
    promotion_request = models.ForeignKey(
        "registry.PromotionRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="retraining_runs"
    )
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    train_until = models.DateTimeField(null=True, blank=True, help_text="Labelled rows from here on are the holdout.")
    replay = models.ForeignKey("ReplayJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    evaluation = models.JSONField(null=True, blank=True)
    verdict = models.CharField(max_length=16, choices=Verdict.choices, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["model", "created_at"], name="retrain_run_model_time")]
        constraints = [
            # One pipeline per model at a time, held by the database whatever races.
            models.UniqueConstraint(
                fields=["model"], condition=Q(status__in=["queued", "running"]), name="one_active_retraining_run"
            ),
            models.CheckConstraint(condition=Q(window_start__lt=F("window_end")), name="retrain_window_ordered"),
            models.CheckConstraint(condition=Q(trigger__in=TriggerKind.values), name="retrain_trigger_known"),
        ]

    def __str__(self) -> str:
        return f"Retraining run #{self.pk} of {self.model} ({self.status})"


class RetrainingStep(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        SKIPPED = "skipped"
        FAILED = "failed"
        CANCELLED = "cancelled"

    run = models.ForeignKey(RetrainingRun, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=16)
    position = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempt = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    log = models.TextField(blank=True, help_text="The last lines the step wrote.")
    output = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "name"], name="one_step_per_name"),
            models.CheckConstraint(condition=Q(name__in=STEP_NAMES), name="retrain_step_known"),
        ]

    def __str__(self) -> str:
        return f"{self.name} of run #{self.run_id} ({self.status})"


class ReplayJob(models.Model):
    """A version scored offline on a window of logged traffic, chunk by chunk (keyset on the
    log's id, so a restarted task resumes after the last committed chunk), compared with the
    champion on the same rows."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    model = models.ForeignKey("registry.RegisteredModel", on_delete=models.CASCADE, related_name="replay_jobs")
    version = models.ForeignKey("registry.ModelVersion", on_delete=models.CASCADE, related_name="replay_jobs")
    champion = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    since = models.DateTimeField()
    until = models.DateTimeField()
    variant = models.CharField(max_length=32, blank=True, help_text="Only rows logged for this variant; empty: all but shadow.")
    metric = models.CharField(max_length=16, blank=True)
    labelled_only = models.BooleanField(default=False, help_text="Only rows with ground truth (the evaluate step).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    chunk_rows = models.PositiveIntegerField(default=50_000)
    rows_total = models.BigIntegerField(null=True, blank=True)
    rows_done = models.BigIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    # Resume point: (ts, id) of the last committed row; chunks are read in (ts, id) order.
    last_ts = models.DateTimeField(null=True, blank=True)
    last_id = models.BigIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(since__lt=F("until")), name="replay_window_ordered"),
            models.CheckConstraint(condition=Q(chunk_rows__gte=100), name="replay_chunk_rows_min"),
        ]

    @property
    def progress(self) -> float | None:
        if not self.rows_total:
            return 1.0 if self.status == self.Status.SUCCEEDED else None
        return min(1.0, self.rows_done / self.rows_total)
