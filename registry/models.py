from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .names import MODEL_NAME_MAX_LENGTH, model_name_problem
from .stages import NONE, PRODUCTION, STAGE_CHOICES, STAGES


def validate_model_name(name: str) -> None:
    problem = model_name_problem(name)
    if problem:
        raise ValidationError(problem, code="invalid_name")


# registry/names.py's rule as far as the database can hold it (NUL cannot be stored at all).
MODEL_NAME_ALLOWED = (
    Q(name__regex=r"\S")
    & ~Q(name__contains="/")
    & ~Q(name__contains=":")
    & ~Q(name=".")
    & ~Q(name__startswith="..")
)


class RegisteredModel(models.Model):
    name = models.CharField(max_length=MODEL_NAME_MAX_LENGTH, unique=True, validators=[validate_model_name])
    description = models.TextField(blank=True, max_length=10000)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_models"
    )
    tags = models.JSONField(default=dict, blank=True)
    required_approvals = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    # The last version number handed out; read and bumped under a row lock.
    last_version = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(required_approvals__gte=1) & Q(required_approvals__lte=10), name="approvals_between_1_10"
            ),
            models.CheckConstraint(condition=MODEL_NAME_ALLOWED, name="model_name_allowed"),
        ]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    stage = models.CharField(max_length=16, choices=STAGE_CHOICES, default=NONE)
    source = models.CharField(max_length=1000)
    run_id = models.CharField(max_length=64, blank=True)
    description = models.TextField(blank=True, max_length=10000)
    metrics = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    input_schema = models.JSONField(default=list, blank=True)
    output_schema = models.JSONField(default=list, blank=True)
    # What MLflow told us at registration (empty for sources outside MLflow).
    storage_location = models.CharField(max_length=1000, blank=True, help_text="Where the artifacts are stored.")
    mlflow_model_id = models.CharField(max_length=64, blank=True)
    flavors = models.JSONField(default=list, blank=True)
    run_tags = models.JSONField(default=dict, blank=True, help_text="The MLflow run's own tags (mlflow.* left out).")
    signature_found = models.BooleanField(null=True, help_text="None: not an MLflow source.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    stage_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["model", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="unique_version_number"),
            models.UniqueConstraint(
                fields=["model"], condition=Q(stage=PRODUCTION), name="one_production_version_per_model"
            ),
            models.CheckConstraint(condition=Q(stage__in=STAGES), name="known_stage"),
            models.CheckConstraint(condition=Q(version__gte=1), name="version_from_1"),
        ]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.version}"


class ModelAlias(models.Model):
    """A named pointer to a version (MLflow aliases). The production alias is not stored:
    it always names the Production version, and is set only through a promotion."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=255)
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="aliases")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["alias"]
        constraints = [models.UniqueConstraint(fields=["model", "alias"], name="unique_alias_per_model")]

    def __str__(self) -> str:
        return f"{self.model.name}@{self.alias}"


class StageTransition(models.Model):
    """Every stage change, so 'what was in Production at T' is one query."""

    class Kind(models.TextChoices):
        MANUAL = "manual"
        PROMOTION = "promotion"
        ROLLBACK = "rollback"
        REPLACED = "replaced", "archived when replaced"
        IMPORTED = "imported", "imported from MLflow"

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="transitions")
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="transitions")
    from_stage = models.CharField(max_length=16, choices=STAGE_CHOICES)
    to_stage = models.CharField(max_length=16, choices=STAGE_CHOICES)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(blank=True)
    promotion_request = models.ForeignKey(
        "PromotionRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="transitions"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["model", "created_at", "id"], name="transition_model_time")]


class PromotionStatus(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class PromotionRequest(models.Model):
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="promotion_requests")
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="promotion_requests")
    status = models.CharField(max_length=16, choices=PromotionStatus.choices, default=PromotionStatus.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True, max_length=10000)
    required_approvals = models.PositiveSmallIntegerField()
    # The Production version when the request was filed; approval is refused once it changed.
    production_version_at_request = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    gate = models.JSONField(default=dict, help_text="Gate result when the request was filed.")
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version"], condition=Q(status="pending"), name="one_pending_request_per_version"
            ),
        ]

    def __str__(self) -> str:
        return f"Promotion #{self.pk}: {self.version} ({self.status})"


class PromotionDecision(models.Model):
    class Verdict(models.TextChoices):
        APPROVE = "approve"
        REJECT = "reject"

    request = models.ForeignKey(PromotionRequest, on_delete=models.CASCADE, related_name="decisions")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    comment = models.TextField(blank=True, max_length=10000)
    gate = models.JSONField(default=dict, help_text="Gate result at decision time.")
    override_reason = models.TextField(blank=True, max_length=10000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["request", "approver"], name="one_decision_per_approver")]


class MlflowImportedVersion(models.Model):
    """Which version here a version of another MLflow registry was imported as, so a
    second import run finds it instead of copying it again."""

    source_registry = models.CharField(max_length=500)
    source_name = models.CharField(max_length=256)
    source_version = models.PositiveIntegerField()
    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="imported_from")
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source_registry", "source_name", "source_version"], name="import_once_per_source_version"
            )
        ]
