"""Drift monitoring's REST API (API.md, Monitoring): the monitor policy, drift runs and their
reports (reference profiles: reference_api.py). Thin: parse, call a service or a read, serialize."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane import roles
from control_plane.api_base import StrictSerializer, errors, paginate
from control_plane.errors import Invalid, NotFound
from control_plane.permissions import requires
from registry.models import RegisteredModel

from .drift_jobs import drift_report_start
from .models import DriftReport, MonitorPolicy
from .policies import monitor_policy_get, monitor_policy_update


def model_get(name: str) -> RegisteredModel:
    model = RegisteredModel.objects.filter(name=name).first()
    if model is None:
        raise NotFound(f"Model '{name}' does not exist.", code="model_not_found")
    return model


# --- Monitor policy -------------------------------------------------------------------------------


class PolicyOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    thresholds = serializers.DictField(child=serializers.FloatField())
    key_features = serializers.ListField(child=serializers.CharField())
    periodic_task = serializers.CharField(
        source="periodic_task.name",
        allow_null=True,
        default=None,
        help_text="The django-celery-beat PeriodicTask that runs it.",
    )
    updated_by = serializers.CharField(source="updated_by.username", allow_null=True, default=None)

    class Meta:
        model = MonitorPolicy
        ref_name = "MonitorPolicy"
        fields = [
            "model",
            "enabled",
            "schedule",
            "sample_size",
            "window_hours",
            "thresholds",
            "key_features",
            "periodic_task",
            "updated_by",
            "created_at",
            "updated_at",
        ]


class PolicyIn(StrictSerializer):
    """The fields to change; those left out keep their values."""

    enabled = serializers.BooleanField(required=False)
    schedule = serializers.CharField(
        required=False, max_length=200, help_text='Crontab "minute hour day-of-month month day-of-week" in UTC.'
    )
    sample_size = serializers.IntegerField(required=False, help_text="100 to 1,000,000 rows.")
    window_hours = serializers.IntegerField(required=False, help_text="1 to 2160 hours.")
    thresholds = serializers.DictField(
        child=serializers.FloatField(), required=False, help_text="Only the keys given change; moderate below major."
    )
    key_features = serializers.ListField(child=serializers.CharField(), required=False)

    class Meta:
        ref_name = "MonitorPolicyUpdate"


class MonitorPolicyApi(APIView):
    permission_classes = [requires(roles.MONITOR)]

    @extend_schema(
        operation_id="monitor_policy_retrieve",
        responses={200: PolicyOut, **errors(401, 403, 404)},
        description="The model's monitor policy (created with the defaults on first read).",
    )
    def get(self, request, name):
        return Response(PolicyOut(monitor_policy_get(model_get(name))).data)

    @extend_schema(
        operation_id="monitor_policy_update",
        request=PolicyIn,
        responses={200: PolicyOut, **errors(400, 401, 403, 404, 422)},
        description="Change the fields given (the others keep their values); beat's schedule follows. "
        "Contributors, approvers and admins.",
    )
    def put(self, request, name):
        data = PolicyIn(data=request.data)
        data.is_valid(raise_exception=True)
        policy = monitor_policy_update(model=model_get(name), actor=request.user, **data.validated_data)
        return Response(PolicyOut(policy).data)


# --- Drift runs and reports --------------------------------------------------------------------------


class FeatureDriftOut(serializers.Serializer):
    feature = serializers.CharField()
    kind = serializers.CharField()
    psi = serializers.FloatField(allow_null=True)
    ks_stat = serializers.FloatField(allow_null=True)
    ks_pvalue = serializers.FloatField(allow_null=True)
    js = serializers.FloatField(allow_null=True)
    wasserstein_std = serializers.FloatField(allow_null=True)
    chi2_stat = serializers.FloatField(allow_null=True)
    chi2_pvalue = serializers.FloatField(allow_null=True)
    null_share = serializers.FloatField(allow_null=True)
    severity = serializers.ChoiceField(choices=DriftReport.Severity.values)
    histogram = serializers.JSONField(allow_null=True, help_text="Shares per bin (or category), reference and current.")

    class Meta:
        ref_name = "FeatureDrift"


class PerformanceOut(serializers.Serializer):
    reference = serializers.DictField(child=serializers.FloatField(allow_null=True))
    realised = serializers.DictField(child=serializers.FloatField(allow_null=True), allow_null=True)
    estimated = serializers.DictField(child=serializers.FloatField(allow_null=True), allow_null=True)
    labelled_rows = serializers.IntegerField()
    judged_on = serializers.CharField(allow_null=True, help_text="realised, estimated, or null.")
    below_floor = serializers.ListField(child=serializers.CharField())

    class Meta:
        ref_name = "DriftPerformance"


class WindowOut(serializers.Serializer):
    start = serializers.DateTimeField(source="window_start")
    end = serializers.DateTimeField(source="window_end")

    class Meta:
        ref_name = "DriftWindow"


class ReportOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.IntegerField(source="version.version", allow_null=True, default=None)
    window = WindowOut(source="*")
    features = FeatureDriftOut(many=True)
    prediction = FeatureDriftOut(allow_null=True)
    performance = PerformanceOut(allow_null=True)
    drifted_features = serializers.ListField(child=serializers.CharField())
    requested_by = serializers.CharField(source="requested_by.username", allow_null=True, default=None)

    class Meta:
        model = DriftReport
        ref_name = "DriftReport"
        fields = [
            "id",
            "model",
            "version",
            "status",
            "severity",
            "trigger",
            "sample_size",
            "window",
            "features",
            "prediction",
            "performance",
            "drifted_features",
            "thresholds",
            "error",
            "requested_by",
            "created_at",
            "finished_at",
        ]


def _reports(model: RegisteredModel):
    return DriftReport.objects.filter(model=model).select_related("model", "version", "requested_by")


class RunIn(StrictSerializer):
    """The window and version of a drift run; all optional."""

    since = serializers.DateTimeField(required=False, help_text="Default: until minus the policy's window_hours.")
    until = serializers.DateTimeField(required=False, help_text="Default: now.")
    version = serializers.IntegerField(required=False, min_value=1, help_text="Default: the Production version.")

    class Meta:
        ref_name = "DriftRun"


class DriftRunApi(APIView):
    permission_classes = [requires(roles.MONITOR)]

    @extend_schema(
        operation_id="drift_run_create",
        request=RunIn,
        responses={202: ReportOut, **errors(400, 401, 403, 404, 422)},
        description="Start a drift run now; poll the report at the Location header. 422 when the version has no "
        "reference profile. Contributors, approvers and admins.",
    )
    def post(self, request, name):
        data = RunIn(data=request.data)
        data.is_valid(raise_exception=True)
        report = drift_report_start(model=model_get(name), actor=request.user, **data.validated_data)
        report = _reports(report.model).get(pk=report.pk)
        location = reverse("api-drift-report", args=[name, report.pk])
        return Response(ReportOut(report).data, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class DriftReportListApi(APIView):
    @extend_schema(
        operation_id="drift_reports_list",
        parameters=[
            OpenApiParameter("status", str, enum=DriftReport.Status.values),
            OpenApiParameter("severity", str, enum=DriftReport.Severity.values),
        ],
        responses={200: ReportOut(many=True), **errors(401, 403, 404, 422)},
    )
    def get(self, request, name):
        reports = _reports(model_get(name))
        for param, choices in (("status", DriftReport.Status.values), ("severity", DriftReport.Severity.values)):
            value = request.query_params.get(param)
            if value and value not in choices:
                raise Invalid(f"'{param}' must be one of {', '.join(choices)}.", details={param: ["Unknown value."]})
            if value:
                reports = reports.filter(**{param: value})
        return paginate(self, request, reports, ReportOut)


class DriftReportDetailApi(APIView):
    @extend_schema(operation_id="drift_reports_retrieve", responses={200: ReportOut, **errors(401, 403, 404)})
    def get(self, request, name, report_id):
        report = _reports(model_get(name)).filter(pk=report_id).first()
        if report is None:
            raise NotFound(f"Model '{name}' has no drift report {report_id}.", code="report_not_found")
        return Response(ReportOut(report).data)
