"""The registry's REST API (API.md, Registry). Thin: validate, call a service or a
selector, serialize."""

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane import egress
from control_plane.api_base import StrictSerializer, errors, paginate
from control_plane.errors import Invalid
from control_plane.idempotency import idempotent

from . import mlflow_import, selectors, services, stages
from .models import ModelVersion, RegisteredModel

IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False, description="Replays the first answer."
)


class SchemaColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    nullable = serializers.BooleanField(required=False, default=False)


# --- Serializers for output -----------------------------------------------------------


class ModelOut(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", default=None)
    production_version = serializers.SerializerMethodField()
    staging_versions = serializers.SerializerMethodField()
    latest_version = serializers.SerializerMethodField()
    aliases = serializers.SerializerMethodField(help_text="Alias name to version number.")

    class Meta:
        model = RegisteredModel
        ref_name = "Model"
        fields = [
            "name",
            "description",
            "owner",
            "tags",
            "required_approvals",
            "production_version",
            "staging_versions",
            "latest_version",
            "aliases",
            "created_at",
            "updated_at",
        ]

    def get_production_version(self, obj) -> int | None:
        version = selectors.production_version(obj)
        return version.version if version else None

    def get_staging_versions(self, obj) -> list[int]:
        return [v.version for v in selectors.staging_versions(obj)]

    def get_latest_version(self, obj) -> int | None:
        return obj.last_version or None

    def get_aliases(self, obj) -> dict[str, int]:
        return selectors.model_aliases(obj)


class VersionOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    created_by = serializers.CharField(source="created_by.username", default=None)
    input_schema = SchemaColumnSerializer(many=True)
    output_schema = SchemaColumnSerializer(many=True)
    aliases = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        ref_name = "ModelVersion"
        fields = [
            "model",
            "version",
            "stage",
            "source",
            "run_id",
            "description",
            "metrics",
            "params",
            "tags",
            "input_schema",
            "output_schema",
            "aliases",
            "storage_location",
            "flavors",
            "run_tags",
            "created_by",
            "created_at",
            "updated_at",
            "stage_changed_at",
        ]


    def get_aliases(self, obj) -> list[str]:
        return selectors.version_aliases(obj)


class TransitionOut(serializers.Serializer):
    version = serializers.IntegerField(source="version.version")
    from_stage = serializers.CharField()
    to_stage = serializers.CharField()
    kind = serializers.CharField()
    actor = serializers.CharField(source="actor.username", default=None)
    reason = serializers.CharField()
    promotion_request = serializers.IntegerField(source="promotion_request_id", allow_null=True)
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "StageTransition"


# --- Models -------------------------------------------------------------------------


class ModelListApi(APIView):
    class InputSerializer(StrictSerializer):
        # Not trimmed: " churn" and "churn" are two names, as in MLflow. The length and
        # characters are checked by the service (registry/names.py), in one wording.
        name = serializers.CharField(trim_whitespace=False)
        description = serializers.CharField(required=False, allow_blank=True, max_length=10000, default="")
        tags = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)
        required_approvals = serializers.IntegerField(required=False, default=1, min_value=1, max_value=10)

        class Meta:
            ref_name = "ModelCreate"

    @extend_schema(
        operation_id="models_list",
        parameters=[OpenApiParameter("search", str, description="Name or description contains.")],
        responses={200: ModelOut(many=True), **errors(401, 403)},
    )
    def get(self, request):
        return paginate(self, request, selectors.model_list(search=request.query_params.get("search", "")), ModelOut)

    @extend_schema(
        operation_id="models_create",
        parameters=[IDEMPOTENCY],
        request=InputSerializer,
        responses={201: ModelOut, **errors(400, 401, 403, 409, 413, 422)},
    )
    def post(self, request):
        def create():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            model = services.model_create(actor=request.user, **data.validated_data)
            return Response(ModelOut(selectors.model_get(model.name)).data, status=status.HTTP_201_CREATED)

        return idempotent(request, create)


class ModelDetailApi(APIView):
    class InputSerializer(StrictSerializer):
        description = serializers.CharField(required=False, allow_blank=True, max_length=10000)
        tags = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
        required_approvals = serializers.IntegerField(required=False, min_value=1, max_value=10)

        class Meta:
            ref_name = "ModelUpdate"

    @extend_schema(operation_id="models_retrieve", responses={200: ModelOut, **errors(401, 403, 404)})
    def get(self, request, name):
        return Response(ModelOut(selectors.model_get(name)).data)

    @extend_schema(
        operation_id="models_update", request=InputSerializer, responses={200: ModelOut, **errors(400, 401, 403, 404, 422)}
    )
    def patch(self, request, name):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.model_update(actor=request.user, name=name, **data.validated_data)
        return Response(ModelOut(selectors.model_get(name)).data)

    @extend_schema(operation_id="models_destroy", responses={204: None, **errors(401, 403, 404, 409)})
    def delete(self, request, name):
        services.model_delete(actor=request.user, name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ModelRollbackApi(APIView):
    class InputSerializer(StrictSerializer):
        reason = serializers.CharField(max_length=10000)
        to_version = serializers.IntegerField(required=False, min_value=1)

        class Meta:
            ref_name = "Rollback"

    @extend_schema(
        operation_id="models_rollback",
        request=InputSerializer,
        responses={200: VersionOut, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request, name):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.model_rollback(actor=request.user, model_name=name, **data.validated_data)
        return Response(VersionOut(version).data)


class ModelHistoryApi(APIView):
    class AtOut(serializers.Serializer):
        at = serializers.DateTimeField()
        production_version = VersionOut(allow_null=True)

        class Meta:
            ref_name = "ProductionAt"

    @extend_schema(
        operation_id="models_history",
        parameters=[
            OpenApiParameter(
                "at", str, description="ISO 8601 time: answer which version was in Production then, instead of the timeline."
            )
        ],
        responses={200: TransitionOut(many=True), **errors(401, 403, 404, 422)},
    )
    def get(self, request, name):
        model = selectors.model_get(name)
        at_raw = request.query_params.get("at")
        if at_raw:
            try:
                at = parse_datetime(at_raw.replace(" ", "+"))
            except ValueError:  # well formed but out of range, e.g. month 13
                at = None
            if at is None:
                raise Invalid(f"'at' is not an ISO 8601 time: {at_raw!r}.", details={"at": ["Invalid datetime."]})
            if at.tzinfo is None:
                raise Invalid("'at' needs a timezone (for example 2026-01-31T12:00:00Z).", details={"at": ["No timezone."]})
            version = selectors.production_at(model, at)
            return Response(self.AtOut({"at": at, "production_version": version}).data)
        return paginate(self, request, selectors.history(model), TransitionOut)


# --- Versions -----------------------------------------------------------------------


class VersionListApi(APIView):
    class InputSerializer(StrictSerializer):
        source = serializers.CharField(
            max_length=1000,
            required=False,
            default="",
            allow_blank=True,
            help_text="models:/m-<id>, runs:/<run_id>/<path>, or any URI; may be left out when run_id is given.",
        )
        run_id = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
        model_id = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
        description = serializers.CharField(required=False, allow_blank=True, max_length=10000, default="")
        metrics = serializers.DictField(child=serializers.FloatField(), required=False, default=dict)
        params = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)
        tags = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)
        input_schema = serializers.ListField(child=serializers.DictField(), required=False, default=list)
        output_schema = serializers.ListField(child=serializers.DictField(), required=False, default=list)

        class Meta:
            ref_name = "VersionRegister"

    @extend_schema(
        operation_id="versions_list",
        parameters=[OpenApiParameter("stage", str, enum=list(stages.STAGES))],
        responses={200: VersionOut(many=True), **errors(401, 403, 404)},
    )
    def get(self, request, name):
        model = selectors.model_get(name)
        stage = request.query_params.get("stage", "")
        if stage and stage not in stages.STAGES:
            raise Invalid(f"Unknown stage '{stage}'.", code="unknown_stage", details={"stage": ["Unknown stage."]})
        return paginate(self, request, selectors.version_list(model, stage=stage), VersionOut)

    @extend_schema(
        operation_id="versions_register",
        parameters=[IDEMPOTENCY],
        request=InputSerializer,
        responses={201: VersionOut, **errors(400, 401, 403, 404, 413, 422)},
    )
    def post(self, request, name):
        def create():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            version = services.version_register_from_source(actor=request.user, model_name=name, **data.validated_data)
            return Response(VersionOut(version).data, status=status.HTTP_201_CREATED)

        return idempotent(request, create)


class VersionDetailApi(APIView):
    class InputSerializer(StrictSerializer):
        description = serializers.CharField(required=False, allow_blank=True, max_length=10000)
        tags = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)

        class Meta:
            ref_name = "VersionUpdate"

    @extend_schema(operation_id="versions_retrieve", responses={200: VersionOut, **errors(401, 403, 404)})
    def get(self, request, name, version):
        return Response(VersionOut(selectors.version_get(name, version)).data)

    @extend_schema(
        operation_id="versions_update",
        request=InputSerializer,
        responses={200: VersionOut, **errors(400, 401, 403, 404, 422)},
    )
    def patch(self, request, name, version):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            VersionOut(services.version_update(actor=request.user, model_name=name, version=version, **data.validated_data)).data
        )


class VersionStageApi(APIView):
    class InputSerializer(StrictSerializer):
        stage = serializers.CharField(help_text="none, staging or archived; production needs a promotion request.")
        reason = serializers.CharField(required=False, allow_blank=True, max_length=10000, default="")

        class Meta:
            ref_name = "StageChange"

    @extend_schema(
        operation_id="versions_set_stage",
        request=InputSerializer,
        responses={200: VersionOut, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request, name, version):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mv = services.version_set_stage(actor=request.user, model_name=name, version=version, **data.validated_data)
        return Response(VersionOut(mv).data)


# --- Import -------------------------------------------------------------------------


class MlflowImportApi(APIView):
    class InputSerializer(StrictSerializer):
        registry_uri = serializers.CharField(
            required=False, allow_blank=True, default="", help_text="Defaults to MLFLOW_TRACKING_URI."
        )
        models = serializers.ListField(child=serializers.CharField(), required=False, default=list)

        class Meta:
            ref_name = "MlflowImport"

    class OutputSerializer(serializers.Serializer):
        registry_uri = serializers.CharField()
        changes = serializers.IntegerField()
        models_created = serializers.ListField(child=serializers.CharField())
        versions_created = serializers.ListField(child=serializers.CharField())
        stages_changed = serializers.ListField(child=serializers.CharField())
        aliases_set = serializers.ListField(child=serializers.CharField())
        updated = serializers.ListField(child=serializers.CharField())
        promotion_requests = serializers.ListField(
            child=serializers.CharField(),
            help_text="Versions in Production there: here in Staging, with a promotion request filed by you.",
        )
        warnings = serializers.ListField(child=serializers.CharField())

        class Meta:
            ref_name = "MlflowImportReport"

    @extend_schema(
        operation_id="import_mlflow_registry",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(400, 401, 403, 422)},
        description="Copy models and versions from an MLflow registry (admins). Running it again changes nothing. "
        "A version in Production there lands in Staging with a promotion request filed by the importer.",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["registry_uri"]:  # a URI named by the caller: http(s) to allowed hosts only
            data.validated_data["registry_uri"] = egress.check_url(data.validated_data["registry_uri"], field="registry_uri")
        try:
            with egress.guarded():  # and checked again on every connection the import opens
                report = mlflow_import.registry_import(actor=request.user, **data.validated_data)
        except egress.EgressRefused as exc:
            raise Invalid(f"The import was refused a connection: {exc.message}", code="url_not_allowed",
                          details={"registry_uri": [exc.message]}) from None
        return Response(self.OutputSerializer(report.as_dict()).data)
