"""GET, POST /api/v1/batch-jobs/, GET .../{id}/, POST .../{id}/cancel/."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane import roles, token_scope
from control_plane.api_base import StrictSerializer, errors, paginate
from control_plane.errors import Invalid, NotFound
from control_plane.permissions import requires

from . import batch_services
from .models import BatchJob


class BatchJobOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.IntegerField(source="version.version")
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    progress = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Fraction of rows done, 0 to 1; null before the total is known."
    )

    class Meta:
        model = BatchJob
        ref_name = "BatchJob"
        fields = [
            "id",
            "model",
            "version",
            "status",
            "input_path",
            "input_format",
            "output_path",
            "errors_path",
            "chunk_rows",
            "rows_total",
            "rows_done",
            "rows_invalid",
            "chunks_done",
            "progress",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "updated_at",
            "finished_at",
        ]


def _job_get(job_id: int) -> BatchJob:
    job = BatchJob.objects.select_related("model", "version", "created_by").filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"Batch job {job_id} does not exist.")
    token_scope.require_model(job.model.name)
    return job


class BatchJobCreate(StrictSerializer):
    model = serializers.CharField(max_length=256)
    version = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                       help_text="Default: the current Production version.")
    input = serializers.CharField(required=False, max_length=1000,
                                  help_text="A .csv or .parquet file under the server's BATCH_DIR.")
    output = serializers.CharField(required=False, allow_blank=True, max_length=1000,
                                   help_text="Where to write the scores (under BATCH_DIR); the suffix picks CSV or Parquet.")

    class Meta:
        ref_name = "BatchJobCreate"

    def validate(self, data):
        if not data.get("input") and not self.context.get("has_file"):
            raise serializers.ValidationError({"input": ["Give a server path, or upload the file as 'file'."]})
        return data


class BatchJobUpload(BatchJobCreate):
    file = serializers.FileField(required=False)

    class Meta:
        ref_name = "BatchJobUpload"


class BatchJobListApi(APIView):
    permission_classes = [requires(roles.REGISTER, methods=("POST",))]
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        operation_id="batch_jobs_list",
        parameters=[
            OpenApiParameter("model", str, description="Only this model's jobs."),
            OpenApiParameter("status", str, enum=BatchJob.Status.values),
        ],
        responses={200: BatchJobOut(many=True), **errors(401, 403)},
    )
    def get(self, request):
        jobs = token_scope.only_allowed(BatchJob.objects, "model__name").select_related("model", "version", "created_by")
        if request.query_params.get("model"):
            jobs = jobs.filter(model__name=request.query_params["model"])
        status = request.query_params.get("status")
        if status:
            if status not in BatchJob.Status.values:
                raise Invalid(
                    f"Unknown status '{status}'.", details={"status": [f"One of {', '.join(BatchJob.Status.values)}."]}
                )
            jobs = jobs.filter(status=status)
        return paginate(self, request, jobs, BatchJobOut)

    @extend_schema(
        operation_id="batch_jobs_create",
        request={"application/json": BatchJobCreate, "multipart/form-data": BatchJobUpload},
        responses={201: BatchJobOut, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request):
        upload = request.FILES.get("file") if hasattr(request, "FILES") else None
        if upload is not None:
            fields = {k: request.data.get(k) for k in request.data if k != "file"}
            data = BatchJobUpload(data={**fields, "file": upload}, context={"has_file": True})
        else:
            data = BatchJobCreate(data=request.data, context={"has_file": False})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        job = batch_services.batch_job_create(
            actor=request.user,
            model_name=values["model"],
            version=values.get("version"),
            input_path=None if upload is not None else values["input"],
            upload=upload,
            output=values.get("output") or None,
        )
        return Response(BatchJobOut(_job_get(job.pk)).data, status=status.HTTP_201_CREATED)


class BatchJobDetailApi(APIView):
    @extend_schema(operation_id="batch_jobs_retrieve", responses={200: BatchJobOut, **errors(401, 403, 404)})
    def get(self, request, job_id):
        return Response(BatchJobOut(_job_get(job_id)).data)


class BatchJobCancelApi(APIView):
    permission_classes = [requires(roles.REGISTER)]

    @extend_schema(
        operation_id="batch_jobs_cancel", request=None, responses={200: BatchJobOut, **errors(401, 403, 404, 409)}
    )
    def post(self, request, job_id):
        job = batch_services.batch_job_cancel(actor=request.user, job_id=job_id)
        return Response(BatchJobOut(_job_get(job.pk)).data)
