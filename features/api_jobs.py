"""GET /api/v1/features/historical/jobs/{id}/ and .../download/: a historical job, for its
creator or an admin."""

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane.api_base import errors

from .historical import CONTENT_TYPES
from .models import HistoricalJob
from .services import historical_job_get, historical_job_output


class HistoricalJobOut(serializers.ModelSerializer):
    format = serializers.CharField(source="output_format")
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    progress = serializers.SerializerMethodField(help_text="Fraction of rows written, 0 to 1.")
    download = serializers.SerializerMethodField(help_text="The file's URL once the job succeeded, else null.")

    class Meta:
        model = HistoricalJob
        ref_name = "HistoricalJob"
        fields = ["id", "status", "format", "rows_done", "rows_total", "progress", "error", "download",
                  "created_by", "created_at", "started_at", "updated_at", "finished_at"]

    def get_progress(self, job) -> float:
        if not job.rows_total:
            return 1.0 if job.status == HistoricalJob.Status.SUCCEEDED else 0.0
        return round(min(job.rows_done / job.rows_total, 1.0), 4)

    def get_download(self, job) -> str | None:
        if job.status != HistoricalJob.Status.SUCCEEDED:
            return None
        return self.context["request"].build_absolute_uri(reverse("api-features-historical-download", args=[job.pk]))


def job_answer(request, job: HistoricalJob) -> dict:
    return HistoricalJobOut(job, context={"request": request}).data


class HistoricalJobApi(APIView):
    @extend_schema(operation_id="features_historical_job", responses={200: HistoricalJobOut, **errors(401, 403, 404)},
                   description="Status and progress of a historical job; only its creator or an admin may read it.")
    def get(self, request, job_id):
        return Response(job_answer(request, historical_job_get(actor=request.user, job_id=job_id)))


class HistoricalJobDownloadApi(APIView):
    @extend_schema(operation_id="features_historical_job_download",
                   responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY,
                              **errors(401, 403, 404, 409)},
                   description="The job's file (CSV or Parquet, as asked); 409 until the job succeeded.")
    def get(self, request, job_id):
        path = historical_job_output(actor=request.user, job_id=job_id)
        fmt = path.suffix.lstrip(".")
        return FileResponse(path.open("rb"), as_attachment=True, filename=f"historical-{job_id}.{fmt}",
                            content_type=CONTENT_TYPES[fmt])
