from django.contrib import admin

from control_plane.admin import ReadOnlyAdmin

from .models import PredictionLog


@admin.register(PredictionLog)
class PredictionLogAdmin(ReadOnlyAdmin):
    list_display = ["ts", "model_name", "model_version", "variant", "request_id", "latency_ms", "ground_truth"]
    list_filter = ["variant"]
    search_fields = ["=request_id", "=model_name"]
    show_full_result_count = False  # the table holds millions of rows
    ordering = ["-ts"]
