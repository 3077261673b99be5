"""Champion versus challenger: GET /api/v1/models/{name}/deployment/comparison/ and the
page /models/<name>/deployment/. Both read through `comparison.comparison`."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane.api_base import errors
from control_plane.query_params import time_param

from .comparison import comparison
from .deployment_api import DeploymentOut

# --- API ------------------------------------------------------------------------------


class ComparisonVariantOut(serializers.Serializer):
    variant = serializers.CharField()
    version = serializers.IntegerField(allow_null=True)
    requests = serializers.IntegerField()
    errors = serializers.IntegerField()
    error_rate = serializers.FloatField(allow_null=True)
    latency_p50_ms = serializers.FloatField(allow_null=True)
    latency_p95_ms = serializers.FloatField(allow_null=True)
    latency_p99_ms = serializers.FloatField(allow_null=True)
    scored = serializers.IntegerField(help_text="Rows without error that gave a score.")
    mean_score = serializers.FloatField(allow_null=True)

    class Meta:
        ref_name = "ComparisonVariant"


class ComparisonPairedOut(serializers.Serializer):
    available = serializers.BooleanField(help_text="Only shadow deployments answer the same requests twice.")
    reason = serializers.CharField(allow_blank=True)
    pairs = serializers.IntegerField(help_text="Request ids both variants answered without error.")
    kind = serializers.CharField(allow_null=True, help_text="classifier or regressor.")
    agreement_rate = serializers.FloatField(allow_null=True, help_text="Share of pairs with the same label.")
    mean_abs_score_diff = serializers.FloatField(allow_null=True)

    class Meta:
        ref_name = "ComparisonPaired"


class ComparisonHistogramsOut(serializers.Serializer):
    kind = serializers.CharField(help_text="probability (20 bins on [0, 1]), value (common bins) or empty.")
    edges = serializers.ListField(child=serializers.FloatField())
    champion = serializers.ListField(child=serializers.IntegerField())
    challenger = serializers.ListField(child=serializers.IntegerField())

    class Meta:
        ref_name = "ComparisonHistograms"


class ComparisonWeightOut(serializers.Serializer):
    at = serializers.DateTimeField()
    weight = serializers.IntegerField()
    event = serializers.CharField()

    class Meta:
        ref_name = "ComparisonWeight"


class ComparisonAnalysisOut(serializers.Serializer):
    step = serializers.IntegerField()
    weight = serializers.IntegerField()
    decision = serializers.CharField()
    failed_metric = serializers.CharField(allow_blank=True)
    metrics = serializers.DictField()
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "ComparisonAnalysis"


class ComparisonEventOut(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    created_at = serializers.DateTimeField()
    payload = serializers.DictField()

    class Meta:
        ref_name = "ComparisonEvent"


class ComparisonTimelineOut(serializers.Serializer):
    weights = ComparisonWeightOut(many=True)
    analyses = ComparisonAnalysisOut(many=True)
    events = ComparisonEventOut(many=True)

    class Meta:
        ref_name = "ComparisonTimeline"


class ComparisonOut(serializers.Serializer):
    model = serializers.CharField()
    deployment = DeploymentOut()
    since = serializers.DateTimeField()
    max_rows = serializers.IntegerField(help_text="At most this many of the latest rows are read per variant.")
    champion = ComparisonVariantOut()
    challenger = ComparisonVariantOut(help_text="The challenger, or the shadow for a shadow deployment.")
    paired = ComparisonPairedOut()
    histograms = ComparisonHistogramsOut()
    timeline = ComparisonTimelineOut()

    class Meta:
        ref_name = "DeploymentComparison"


class ComparisonApi(APIView):
    @extend_schema(
        operation_id="deployment_comparison",
        parameters=[
            OpenApiParameter(
                "since", str, description="ISO 8601 time with timezone (inclusive); default the deployment's creation."
            )
        ],
        responses={200: ComparisonOut, **errors(401, 403, 404, 422)},
    )
    def get(self, request, name):
        since = time_param(request.query_params, "since")
        return Response(ComparisonOut(comparison(name, since=since)).data)
