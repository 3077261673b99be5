from django.contrib import admin

from control_plane.admin import ReadOnlyAdmin

# Registry state changes go through the services (rules, journal); the admin only shows.
from .models import ModelVersion, PromotionRequest, RegisteredModel, StageTransition


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ReadOnlyAdmin):
    list_display = ["name", "owner", "required_approvals", "last_version", "updated_at"]
    search_fields = ["name"]


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ["model", "version", "stage", "source", "created_at"]
    list_filter = ["stage"]


@admin.register(StageTransition)
class StageTransitionAdmin(ReadOnlyAdmin):
    list_display = ["model", "version", "from_stage", "to_stage", "kind", "actor", "created_at"]


@admin.register(PromotionRequest)
class PromotionRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "model", "version", "status", "requested_by", "created_at"]
    list_filter = ["status"]
