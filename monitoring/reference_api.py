"""POST/GET /api/v1/models/{name}/versions/{v}/reference/: a version's reference profile."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane import roles
from control_plane.api_base import StrictSerializer, errors
from control_plane.errors import Invalid, NotFound
from control_plane.permissions import requires
from registry.models import ModelVersion

from .drift_api import model_get
from .models import ReferenceProfile
from .reference import reference_profile_create, schema_ordered

RAW_TYPES = ("text/csv", "application/vnd.apache.parquet")
TOP_CATEGORIES = 10


class _RawFileParser(BaseParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return {"__raw__": stream.read() if stream is not None else b""}


class CsvParser(_RawFileParser):
    media_type = "text/csv"


class ParquetParser(_RawFileParser):
    media_type = "application/vnd.apache.parquet"


def _version(name: str, number: int) -> ModelVersion:
    version = ModelVersion.objects.select_related("model").filter(model__name=name, version=number).first()
    if version is None:
        model_get(name)
        raise NotFound(f"Model '{name}' has no version {number}.", code="version_not_found")
    return version


class ProfiledFeatureOut(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField(help_text="numeric or categorical.")
    null_share = serializers.FloatField(allow_null=True)
    mean = serializers.FloatField(allow_null=True, required=False)
    std = serializers.FloatField(allow_null=True, required=False)
    min = serializers.FloatField(allow_null=True, required=False)
    max = serializers.FloatField(allow_null=True, required=False)
    categories = serializers.DictField(
        child=serializers.FloatField(), required=False, help_text=f"Categoricals: the {TOP_CATEGORIES} largest shares."
    )

    class Meta:
        ref_name = "ProfiledFeature"


class ReferenceOut(serializers.Serializer):
    model = serializers.CharField()
    version = serializers.IntegerField()
    n_rows = serializers.IntegerField()
    source = serializers.CharField()
    task = serializers.CharField(help_text="classifier, regressor, or empty with no scores.")
    positive_label = serializers.JSONField(allow_null=True)
    label_column = serializers.CharField()
    score_column = serializers.CharField(help_text="Empty: the reference was scored with the version's model.")
    features = ProfiledFeatureOut(many=True)
    score = ProfiledFeatureOut(allow_null=True)
    metrics = serializers.DictField(child=serializers.FloatField(allow_null=True))
    calibrated = serializers.BooleanField(help_text="Whether accuracy can be estimated without labels.")
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "ReferenceProfile"


def _feature_summary(name: str, stats: dict) -> dict:
    out = {"name": name, "kind": stats.get("kind", "numeric"), "null_share": stats.get("null_share")}
    if out["kind"] == "categorical":
        shares = sorted((stats.get("shares") or {}).items(), key=lambda kv: -kv[1])[:TOP_CATEGORIES]
        return {**out, "categories": dict(shares)}
    return {**out, **{k: stats.get(k) for k in ("mean", "std", "min", "max")}}


def reference_summary(reference: ReferenceProfile) -> dict:
    profile = schema_ordered(reference.profile, reference.version.input_schema)
    score = profile.get("score")
    return {
        "model": reference.version.model.name,
        "version": reference.version.version,
        "n_rows": reference.n_rows,
        "source": reference.source,
        "task": reference.task,
        "positive_label": reference.positive_label,
        "label_column": reference.label_column,
        "score_column": reference.score_column,
        "features": [_feature_summary(name, stats) for name, stats in profile.get("features", {}).items()],
        "score": _feature_summary("score", score) if score else None,
        "metrics": profile.get("metrics") or {},
        "calibrated": bool(profile.get("calibration")),
        "created_by": reference.created_by.username if reference.created_by else None,
        "created_at": reference.created_at,
    }


class ReferencePathIn(StrictSerializer):
    """A reference file the server reads: a path under REFERENCE_DATA_ROOTS or an MLflow artifact."""

    path = serializers.CharField(
        required=False, max_length=1000, help_text="A CSV or Parquet file under one of REFERENCE_DATA_ROOTS."
    )
    mlflow_artifact = serializers.CharField(
        required=False, max_length=1000, help_text="A CSV or Parquet artifact of the version's MLflow run."
    )
    label_column = serializers.CharField(required=False, max_length=256, help_text='Default "label" when present.')
    score_column = serializers.CharField(required=False, max_length=256, help_text='Default "score" when present.')

    class Meta:
        ref_name = "ReferenceSource"

    def validate(self, data):
        if ("path" in data) == ("mlflow_artifact" in data):
            raise serializers.ValidationError({"path": ["Give either 'path' or 'mlflow_artifact'."]})
        return data


class ReferenceUploadIn(StrictSerializer):
    """A reference file uploaded as multipart 'file'."""

    file = serializers.FileField(allow_empty_file=True, help_text="A CSV or Parquet file.")
    label_column = serializers.CharField(required=False, max_length=256)
    score_column = serializers.CharField(required=False, max_length=256)

    class Meta:
        ref_name = "ReferenceUpload"


COLUMN_PARAMS = [
    OpenApiParameter("label_column", str, description='Raw bodies: the label column (default "label" when present).'),
    OpenApiParameter("score_column", str, description='Raw bodies: the score column (default "score" when present).'),
]


class ReferenceApi(APIView):
    permission_classes = [requires(roles.REGISTER, methods=("POST",))]
    parser_classes = [JSONParser, MultiPartParser, CsvParser, ParquetParser]

    @extend_schema(operation_id="reference_profile_retrieve", responses={200: ReferenceOut, **errors(401, 403, 404)})
    def get(self, request, name, version):
        found = _version(name, version)
        reference = ReferenceProfile.objects.select_related("created_by").filter(version=found).first()
        if reference is None:
            raise NotFound(f"{name} v{version} has no reference profile.", code="reference_missing")
        reference.version = found
        return Response(ReferenceOut(reference_summary(reference)).data)

    @extend_schema(
        operation_id="reference_profile_create",
        parameters=COLUMN_PARAMS,
        request={
            "multipart/form-data": ReferenceUploadIn,
            "application/json": ReferencePathIn,
            "text/csv": OpenApiTypes.BINARY,
            "application/vnd.apache.parquet": OpenApiTypes.BINARY,
        },
        responses={201: ReferenceOut, **errors(400, 401, 403, 404, 413, 422)},
        description=(
            "Profile the version's reference data once and store the profile (replacing an older one). "
            "Upload the file as multipart 'file' or as the raw body, or name a server path or an MLflow "
            "artifact. Creates the model's monitor policy with its defaults if it has none. Contributors and admins."
        ),
    )
    def post(self, request, name, version):
        found = _version(name, version)
        options = {}
        if request.content_type.split(";")[0].strip() in RAW_TYPES:
            params = {
                k: request.query_params[k] for k in ("label_column", "score_column") if request.query_params.get(k)
            }
            raw = request.data.get("__raw__", b"") if isinstance(request.data, dict) else b""
            suffix = ".parquet" if "parquet" in request.content_type else ".csv"
            options = {"data": raw, "filename": f"body{suffix}", **params}
        elif "file" in getattr(request, "FILES", {}):
            upload = ReferenceUploadIn(data={**request.data.dict(), "file": request.FILES["file"]})
            upload.is_valid(raise_exception=True)
            values = dict(upload.validated_data)
            file = values.pop("file")
            options = {"data": file.read(), "filename": file.name, **values}
        else:
            if hasattr(request.data, "getlist"):  # a form without its file
                raise Invalid("Upload the reference as the multipart field 'file'.", details={"file": ["No file."]})
            source = ReferencePathIn(data=request.data)
            source.is_valid(raise_exception=True)
            options = dict(source.validated_data)
        reference = reference_profile_create(version=found, actor=request.user, **options)
        return Response(ReferenceOut(reference_summary(reference)).data, status=status.HTTP_201_CREATED)
