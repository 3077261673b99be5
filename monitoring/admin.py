from django import forms
from django.contrib import admin

from control_plane.admin import ReadOnlyAdmin
from control_plane.errors import Invalid

from .models import DriftReport, MonitorPolicy, PredictionLog, ReferenceProfile
from .policies import EDITABLE, monitor_policy_update, monitor_policy_validate


@admin.register(PredictionLog)
class PredictionLogAdmin(ReadOnlyAdmin):
    list_display = ["ts", "model_name", "model_version", "variant", "request_id", "latency_ms", "ground_truth"]
    list_filter = ["variant"]
    search_fields = ["=request_id", "=model_name"]
    show_full_result_count = False  # the table holds millions of rows
    ordering = ["-ts"]


@admin.register(ReferenceProfile)
class ReferenceProfileAdmin(ReadOnlyAdmin):
    list_display = ["version", "n_rows", "task", "source", "created_by", "created_at"]
    search_fields = ["version__model__name"]


@admin.register(DriftReport)
class DriftReportAdmin(ReadOnlyAdmin):
    list_display = ["id", "model", "version", "status", "severity", "trigger", "sample_size", "created_at"]
    list_filter = ["status", "severity", "trigger"]
    search_fields = ["model__name"]


class MonitorPolicyForm(forms.ModelForm):
    class Meta:
        model = MonitorPolicy
        fields = list(EDITABLE)

    def clean(self):
        data = super().clean()
        try:
            monitor_policy_validate(self.instance, {name: data[name] for name in self.changed_data if name in data})
        except Invalid as exc:
            raise forms.ValidationError(exc.message) from None
        return data


@admin.register(MonitorPolicy)
class MonitorPolicyAdmin(admin.ModelAdmin):
    """Edits go through the service, so beat's PeriodicTask follows in the same transaction."""

    form = MonitorPolicyForm
    list_display = ["model", "enabled", "schedule", "sample_size", "window_hours", "updated_at"]
    list_filter = ["enabled"]
    search_fields = ["model__name"]

    def has_add_permission(self, request):
        return False  # created with a reference profile, or on first use

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE}
        monitor_policy_update(model=obj.model, actor=request.user, **fields)
