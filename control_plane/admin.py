from django.contrib import admin

from .models import ApiToken, Event, TaskRun


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "model_name", "version", "actor_name", "request_id", "created_at"]
    list_filter = ["type"]
    search_fields = ["model_name", "actor_name", "request_id"]


@admin.register(TaskRun)
class TaskRunAdmin(ReadOnlyAdmin):
    list_display = ["name", "status", "attempts", "started_at", "finished_at", "error"]
    list_filter = ["status", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["name", "user", "prefix", "scope", "serve_only", "expires_at", "last_used_at", "revoked_at"]
    exclude = ["secret_hash"]
