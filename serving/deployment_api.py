"""GET/PUT /api/v1/models/{name}/deployment/ and POST .../deployment/{action}/."""

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane.api_base import StrictSerializer, errors
from control_plane.permissions import requires
from control_plane import roles
from control_plane.errors import Conflict, Forbidden, NotFound
from registry import selectors as registry_selectors

from . import services
from .drills import rollback_drill
from .models import Deployment
from .router import _route_from_db


class DeploymentOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    champion_version = serializers.IntegerField(source="champion.version", allow_null=True)
    challenger_version = serializers.IntegerField(source="challenger.version", allow_null=True, default=None)
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)

    class Meta:
        model = Deployment
        ref_name = "Deployment"
        fields = [
            "id",
            "model",
            "strategy",
            "state",
            "champion_version",
            "challenger_version",
            "challenger_weight",
            "steps",
            "current_step",
            "step_seconds",
            "step_started_at",
            "analysis",
            "created_by",
            "created_at",
            "updated_at",
            "ended_at",
        ]


class ImplicitDeploymentOut(serializers.Serializer):
    model = serializers.CharField()
    strategy = serializers.CharField()
    state = serializers.CharField()
    champion_version = serializers.IntegerField()
    challenger_weight = serializers.IntegerField()

    class Meta:
        ref_name = "ImplicitDeployment"
        closed = True  # documented without extra properties, so a full Deployment never matches it too


class DeploymentApi(APIView):
    class InputSerializer(StrictSerializer):
        strategy = serializers.ChoiceField(choices=Deployment.Strategy.values)
        challenger_version = serializers.IntegerField(required=False, min_value=1, allow_null=True)
        steps = serializers.ListField(child=serializers.IntegerField(), required=False, allow_null=True)
        step_seconds = serializers.IntegerField(required=False, min_value=1, max_value=7 * 86400, allow_null=True)
        analysis = serializers.DictField(required=False, allow_null=True)
        champion_version = serializers.IntegerField(
            required=False, allow_null=True, help_text="Ignored: the champion is the Production version."
        )

        class Meta:
            ref_name = "DeploymentConfigure"

    @extend_schema(
        operation_id="deployment_retrieve",
        responses={
            # A model with only a Production version is served without a deployment row.
            200: PolymorphicProxySerializer(
                component_name="DeploymentOrImplicit",
                serializers=[DeploymentOut, ImplicitDeploymentOut],
                resource_type_field_name=None,
            ),
            **errors(401, 403, 404),
        },
    )
    def get(self, request, name):
        model = registry_selectors.model_get(name)
        deployment = (
            Deployment.objects.filter(model=model, state__in=Deployment.LIVE_STATES)
            .select_related("model", "champion", "challenger", "created_by")
            .first()
        )
        if deployment is not None:
            return Response(DeploymentOut(deployment).data)
        route = _route_from_db(name)
        if route is None:
            raise NotFound(f"Model '{name}' has nothing deployed.", code="nothing_deployed")
        return Response(
            ImplicitDeploymentOut(
                {
                    "model": name,
                    "strategy": route.strategy,
                    "state": "active",
                    "champion_version": route.champion.version,
                    "challenger_weight": 0,
                }
            ).data
        )

    @extend_schema(
        operation_id="deployment_configure",
        request=InputSerializer,
        responses={200: DeploymentOut, **errors(400, 401, 403, 404, 409, 422)},
    )
    def put(self, request, name):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        options = {k: v for k, v in data.validated_data.items() if v is not None and k != "champion_version"}
        deployment = services.deployment_configure(actor=request.user, model_name=name, **options)
        return Response(DeploymentOut(deployment).data)


class DeploymentActionApi(APIView):
    permission_classes = [requires(roles.REGISTER, roles.DECIDE_PROMOTION)]

    class InputSerializer(StrictSerializer):
        reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)

        class Meta:
            ref_name = "DeploymentAction"

    @extend_schema(
        operation_id="deployment_action",
        request=InputSerializer,
        responses={200: DeploymentOut, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request, name, action):
        data = self.InputSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        deployment = services.deployment_action(actor=request.user, model_name=name, action=action, **data.validated_data)
        return Response(DeploymentOut(deployment).data)


class RollbackDrillApi(APIView):
    class OutputSerializer(serializers.Serializer):
        ok = serializers.BooleanField()
        target_version = serializers.IntegerField(source="target.version")
        detail = serializers.CharField()
        duration_ms = serializers.FloatField()
        created_at = serializers.DateTimeField()

        class Meta:
            ref_name = "RollbackDrill"

    @extend_schema(
        operation_id="rollback_drill",
        request=None,
        responses={200: OutputSerializer, **errors(401, 403, 404, 409)},
        description="Load the version a rollback would restore (the Production one) and score a row built "
        "from its schema, now; the release gate uses the latest drill as evidence.",
    )
    def post(self, request, name):
        if not roles.user_can(request.user, roles.REGISTER) and not roles.user_can(request.user, roles.ROLLBACK):
            raise Forbidden(
                "Your role cannot run a rollback drill; contributors, approvers and admins can.", code="permission_denied"
            )
        drill = rollback_drill(registry_selectors.model_get(name))
        if drill is None:
            raise Conflict(f"Model '{name}' has no Production version to roll back to.", code="nothing_to_drill")
        return Response(self.OutputSerializer(drill).data)
