"""The promotion requests' REST API (API.md, Registry: /api/v1/promotions/...). Thin:
validate, call a service or a selector, serialize."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane.api_base import StrictSerializer, errors, paginate
from control_plane.errors import Invalid
from control_plane.idempotency import idempotent

from . import selectors, services
from .api import IDEMPOTENCY
from .gate import gate_evaluate
from .models import PromotionRequest, PromotionStatus


class GateCheckOut(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    status = serializers.ChoiceField(choices=["pass", "fail", "not_available"])
    evidence = serializers.CharField()


class GateOut(serializers.Serializer):
    evaluated_at = serializers.DateTimeField()
    passed = serializers.BooleanField()
    failing = serializers.ListField(child=serializers.CharField())
    checks = GateCheckOut(many=True)


class DecisionOut(serializers.Serializer):
    approver = serializers.CharField(source="approver.username")
    verdict = serializers.CharField()
    comment = serializers.CharField()
    override_reason = serializers.CharField()
    gate = GateOut()
    created_at = serializers.DateTimeField()


class PromotionOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.IntegerField(source="version.version")
    requested_by = serializers.CharField(source="requested_by.username")
    closed_by = serializers.CharField(source="closed_by.username", default=None)
    approvals = serializers.SerializerMethodField()
    decisions = DecisionOut(many=True, read_only=True)
    gate = GateOut()

    class Meta:
        model = PromotionRequest
        ref_name = "PromotionRequest"
        fields = [
            "id",
            "model",
            "version",
            "status",
            "requested_by",
            "reason",
            "required_approvals",
            "approvals",
            "decisions",
            "gate",
            "created_at",
            "closed_at",
            "closed_by",
        ]

    def get_approvals(self, obj) -> int:
        if hasattr(obj, "approvals"):
            return obj.approvals
        return obj.decisions.filter(verdict="approve").count()


class PromotionDetailOut(PromotionOut):
    current_gate = serializers.SerializerMethodField(help_text="The gate evaluated now; null once closed.")

    class Meta(PromotionOut.Meta):
        ref_name = "PromotionRequestDetail"
        fields = [*PromotionOut.Meta.fields, "current_gate"]

    @extend_schema_field(GateOut(allow_null=True))
    def get_current_gate(self, obj):
        return gate_evaluate(obj.version) if obj.status == PromotionStatus.PENDING else None


# --- Promotions ---------------------------------------------------------------------


class PromotionListApi(APIView):
    class InputSerializer(StrictSerializer):
        model = serializers.CharField(max_length=256)
        version = serializers.IntegerField(min_value=1)
        reason = serializers.CharField(required=False, allow_blank=True, max_length=10000, default="")

        class Meta:
            ref_name = "PromotionCreate"

    @extend_schema(
        operation_id="promotions_list",
        parameters=[
            OpenApiParameter("status", str, enum=PromotionStatus.values),
            OpenApiParameter("model", str),
        ],
        responses={200: PromotionOut(many=True), **errors(401, 403, 422)},
    )
    def get(self, request):
        status_filter = request.query_params.get("status", "")
        if status_filter and status_filter not in PromotionStatus.values:
            raise Invalid(f"Unknown status '{status_filter}'.", details={"status": ["Unknown status."]})
        qs = selectors.promotion_list(status=status_filter, model_name=request.query_params.get("model", ""))
        return paginate(self, request, qs.prefetch_related("decisions__approver"), PromotionOut)

    @extend_schema(
        operation_id="promotions_create",
        parameters=[IDEMPOTENCY],
        request=InputSerializer,
        responses={201: PromotionDetailOut, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request):
        def create():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            d = data.validated_data
            promotion = services.promotion_request(
                actor=request.user, model_name=d["model"], version=d["version"], reason=d["reason"]
            )
            return Response(PromotionDetailOut(selectors.promotion_get(promotion.pk)).data, status=status.HTTP_201_CREATED)

        return idempotent(request, create)


class PromotionDetailApi(APIView):
    @extend_schema(operation_id="promotions_retrieve", responses={200: PromotionDetailOut, **errors(401, 403, 404)})
    def get(self, request, pk):
        return Response(PromotionDetailOut(selectors.promotion_get(pk)).data)


class PromotionApproveApi(APIView):
    class InputSerializer(StrictSerializer):
        comment = serializers.CharField(required=False, allow_blank=True, max_length=10000, default="")
        override_reason = serializers.CharField(required=False, allow_blank=True, max_length=10000, default="")
        replace_rollout = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Confirm that this approval may replace the model's running rollout (else 409 rollout_running).",
        )

        class Meta:
            ref_name = "PromotionApprove"

    @extend_schema(
        operation_id="promotions_approve",
        request=InputSerializer,
        responses={200: PromotionDetailOut, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request, pk):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.promotion_approve(actor=request.user, request_id=pk, **data.validated_data)
        return Response(PromotionDetailOut(selectors.promotion_get(pk)).data)


class PromotionRejectApi(APIView):
    class InputSerializer(StrictSerializer):
        comment = serializers.CharField(max_length=10000)

        class Meta:
            ref_name = "PromotionReject"

    @extend_schema(
        operation_id="promotions_reject",
        request=InputSerializer,
        responses={200: PromotionDetailOut, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request, pk):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.promotion_reject(actor=request.user, request_id=pk, **data.validated_data)
        return Response(PromotionDetailOut(selectors.promotion_get(pk)).data)


class PromotionCancelApi(APIView):
    class InputSerializer(StrictSerializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=10000, default="")

        class Meta:
            ref_name = "PromotionCancel"

    @extend_schema(
        operation_id="promotions_cancel",
        request=InputSerializer,
        responses={200: PromotionDetailOut, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request, pk):
        data = self.InputSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        services.promotion_cancel(actor=request.user, request_id=pk, **data.validated_data)
        return Response(PromotionDetailOut(selectors.promotion_get(pk)).data)
