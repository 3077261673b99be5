"""Feature store API, data half: online reads, push, historical retrieval and
materialization runs."""

from pathlib import Path

from django.conf import settings
from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane.api_base import StrictSerializer, errors
from control_plane.errors import Invalid
from control_plane.permissions import CanRead, requires
from control_plane.query_params import bool_param
from control_plane.roles import REGISTER

from . import selectors
from .file_sources import under_data_roots
from .api_jobs import HistoricalJobOut, job_answer
from .historical import CONTENT_TYPES, historical_chunks, output_stream, prepare_frame, read_frame
from .online_reads import online_read
from .resolve import resolve
from .services import historical_job_create, materialization_start, push_rows


class ReadsByPost(CanRead):
    """Online and historical reads are POSTs (their bodies are large) but change nothing:
    read-only tokens may call them."""

    def has_permission(self, request, view):
        method = request.method
        request.method = "GET" if method == "POST" else method
        try:
            return super().has_permission(request, view)
        finally:
            request.method = method


def _refs(data) -> dict:
    features = data.get("features")
    if isinstance(features, str):  # a form field: comma-separated
        features = [f.strip() for f in features.split(",") if f.strip()]
    if features is not None and not (isinstance(features, list) and all(isinstance(f, str) for f in features)):
        raise Invalid("'features' must be a list of \"view:feature\".", details={"features": ["List of strings."]})
    service = data.get("feature_service")
    if service is not None and not isinstance(service, str):
        raise Invalid("'feature_service' must be 'name' or 'name:version'.", details={"feature_service": ["String."]})
    return {"features": features or None, "feature_service": service or None}


class OnlineIn(StrictSerializer):
    features = serializers.ListField(child=serializers.CharField(), required=False)
    feature_service = serializers.CharField(required=False)
    entities = serializers.ListField(child=serializers.DictField())

    class Meta:
        ref_name = "OnlineFeaturesRequest"


ONLINE_OUT = inline_serializer(
    "OnlineFeaturesAnswer",
    fields={"results": serializers.ListField(child=inline_serializer("OnlineFeaturesRow", fields={
        "values": serializers.DictField(), "statuses": serializers.DictField(help_text="present, not_found, outside_ttl"),
        "event_timestamps": serializers.DictField()})), "features": serializers.ListField(child=serializers.CharField())},
)


def _iso(micros):
    from .online import from_micros

    return from_micros(micros).isoformat() if micros is not None else None


class OnlineApi(APIView):
    permission_classes = [ReadsByPost]

    @extend_schema(operation_id="features_online", request=OnlineIn, responses={200: ONLINE_OUT, **errors(400, 401, 403, 404, 422)},
                   description="Online feature values per entity row. A value older than its view's TTL is null "
                   "with status outside_ttl.")
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        if not isinstance(request.data, dict):
            raise Invalid("The body must be a JSON object.", details={"non_field_errors": ["Object."]})
        unknown = sorted(set(body) - {"features", "feature_service", "entities"})
        if unknown:
            raise Invalid(f"Unknown field(s): {', '.join(unknown)}.", details={k: ["Unknown field."] for k in unknown})
        resolved = resolve(**_refs(body))
        rows = online_read(resolved, body.get("entities"))
        results = [{"values": r.values, "statuses": r.statuses,
                    "event_timestamps": {k: _iso(v) for k, v in r.event_timestamps.items()}} for r in rows]
        return Response({"results": results, "features": list(resolved.feature_names)})


class PushIn(StrictSerializer):
    view = serializers.CharField(max_length=63)
    rows = serializers.ListField(child=serializers.JSONField(), allow_empty=False)

    class Meta:
        ref_name = "FeaturePushRequest"


class PushApi(APIView):
    permission_classes = [requires(REGISTER)]

    @extend_schema(operation_id="features_push", request=PushIn,
                   responses={200: inline_serializer("FeaturePushAnswer", fields={"offline": serializers.IntegerField(),
                              "online": serializers.IntegerField(help_text="Rows newer than what online held.")}),
                              **errors(400, 401, 403, 404, 409, 422)})
    def post(self, request):
        body = PushIn(data=request.data)
        body.is_valid(raise_exception=True)
        result = push_rows(actor=request.user, view_name=body.validated_data["view"], rows=request.data["rows"])
        return Response({"offline": result.offline, "online": result.online})


def _allowed_path(text: str) -> Path:
    resolved = Path(text).resolve()
    if not under_data_roots(text):
        roots = [str(Path(r).resolve()) for r in settings.FEATURE_DATA_ROOTS]
        raise Invalid(f"'{text}' is not under a feature data folder ({', '.join(roots)}).",
                      code="path_not_allowed", details={"path": ["Outside FEATURE_DATA_ROOTS."]})
    if not resolved.is_file():
        raise Invalid(f"'{text}' does not exist or is not a file.", code="path_not_found", details={"path": ["No such file."]})
    return resolved


class HistoricalApi(APIView):
    permission_classes = [ReadsByPost]
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        operation_id="features_historical",
        request={"multipart/form-data": OpenApiTypes.OBJECT, "application/json": OpenApiTypes.OBJECT},
        parameters=[OpenApiParameter("async", bool, description="true: always answer 202 with a job; false: always "
                                     "stream; default: a job when the frame has more than FEATURE_HISTORICAL_SYNC_MAX_ROWS rows.")],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY,
                   (202, "application/json"): HistoricalJobOut, **errors(400, 401, 403, 404, 413, 422)},
        description="Point-in-time correct features for an entity frame (join keys, event_timestamp, any other "
        "columns kept): multipart 'file' (CSV or Parquet) or JSON {path} under FEATURE_DATA_ROOTS; with "
        "'features' or 'feature_service'; 'format' csv or parquet (default). Streamed, one row per input row "
        "in input order; or 202 with a job (Location: the job; its file at .../download/ once it succeeded).",
    )
    def post(self, request):
        data = request.data
        if not hasattr(data, "get"):
            raise Invalid("The body must be a JSON object (or a multipart form).", details={"body": ["Not an object."]})
        fmt = data.get("format") or "parquet"
        if fmt not in ("csv", "parquet"):
            raise Invalid("'format' is csv or parquet.", details={"format": ["csv or parquet."]})
        wants_job = bool_param(request.query_params, "async")
        refs = _refs(data)
        resolved = resolve(**refs)
        if "file" in getattr(request, "FILES", {}):
            upload = request.FILES["file"]
            raw, source = upload.read(), None
            frame = read_frame(data=raw, name=upload.name)
        elif isinstance(data.get("path"), str):
            raw, source = None, _allowed_path(data["path"])
            frame = read_frame(path=source)
        else:
            raise Invalid("Send the entity frame as multipart 'file' or name a server 'path'.", details={"file": ["Missing."]})
        if wants_job or (wants_job is None and len(frame) > settings.FEATURE_HISTORICAL_SYNC_MAX_ROWS):
            prepare_frame(frame, resolved)  # a bad frame answers 422 now, not as a failed job
            job = historical_job_create(actor=request.user, refs=refs, fmt=fmt, rows=len(frame), data=raw, source=source)
            answer = Response(job_answer(request, job), status=status.HTTP_202_ACCEPTED)
            answer["Location"] = reverse("api-features-historical-job", args=[job.pk])
            return answer
        chunks = historical_chunks(resolved, frame)
        first = next(chunks)  # errors in the frame or the join answer 422 before streaming starts

        def all_chunks():
            yield first
            yield from chunks

        response = StreamingHttpResponse(output_stream(all_chunks(), fmt, resolved), content_type=CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="historical.{fmt}"'
        return response


class MaterializeIn(StrictSerializer):
    start = serializers.DateTimeField(required=False, allow_null=True, help_text="Exclusive; default: the first event.")
    end = serializers.DateTimeField(required=False, allow_null=True, help_text="Inclusive; default: now.")
    incremental = serializers.BooleanField(required=False, default=False, help_text="From the watermark to now.")

    class Meta:
        ref_name = "MaterializeRequest"


RUN_OUT = inline_serializer("MaterializationRun", fields={"id": serializers.IntegerField(), "status": serializers.CharField(),
                            "keys_written": serializers.IntegerField(), "keys_total": serializers.IntegerField(allow_null=True)})


class MaterializeApi(APIView):
    permission_classes = [requires(REGISTER)]

    @extend_schema(operation_id="features_materialize", request=MaterializeIn,
                   responses={202: RUN_OUT, **errors(400, 401, 403, 404, 409, 422)},
                   description="Start a materialization run: a backfill of (start, end], or incremental from the "
                   "view's watermark. 202 with the run; 409 while the view has one running.")
    def post(self, request, name):
        body = MaterializeIn(data=request.data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        run = materialization_start(
            actor=request.user, view_name=name, kind="incremental" if values.get("incremental") else "backfill",
            start=values.get("start"), end=values.get("end"),
        )
        run.refresh_from_db()
        return Response(selectors.run_out(run), status=status.HTTP_202_ACCEPTED)


class RunListApi(APIView):
    @extend_schema(operation_id="features_runs", responses={200: RUN_OUT, **errors(401, 403, 404)})
    def get(self, request, name):
        view = selectors.view_get(name)
        runs = view.runs.select_related("view").order_by("-created_at")[:100]
        return Response({"results": [selectors.run_out(r) for r in runs]})
