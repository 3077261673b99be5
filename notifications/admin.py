from django.contrib import admin

from control_plane.admin import ReadOnlyAdmin

# Channels change through the services (validation, journal); the admin only shows,
# and never the config, which holds the secrets.
from .models import Channel, Delivery, DeliveryAttempt


@admin.register(Channel)
class ChannelAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "enabled", "last_success_at", "last_error_at", "consecutive_permanent_failures"]
    list_filter = ["kind", "enabled"]
    exclude = ["config"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "event", "channel", "recipient", "status", "attempt_count", "next_attempt_at"]
    list_filter = ["status"]


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ["delivery", "number", "status", "response_code", "duration_ms", "created_at"]
    list_filter = ["status"]
