"""Notifications API (API.md, Notifications). Thin: validate, call a service or a
selector, serialize. Channel configs are shown without their secrets."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane.api_base import StrictSerializer, errors, paginate
from control_plane.idempotency import idempotent
from control_plane.permissions import requires
from control_plane.roles import MANAGE_USERS

from . import selectors, services
from .config import config_public
from .models import Channel, ChannelKind, Delivery, DeliveryAttempt

AdminWrites = requires(MANAGE_USERS)
IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False, description="Replays the first answer."
)


class ChannelOut(serializers.ModelSerializer):
    config = serializers.SerializerMethodField(help_text="Secrets replaced by hints (url_hint, secret_hint).")
    models = serializers.ListField(source="model_names", child=serializers.CharField())
    events = serializers.ListField(child=serializers.CharField())
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = Channel
        ref_name = "NotificationChannel"
        fields = [
            "id", "kind", "name", "config", "events", "models", "enabled", "disabled_reason",
            "last_success_at", "last_error", "last_error_at", "consecutive_permanent_failures",
            "created_by", "created_at", "updated_at",
        ]

    @extend_schema_field(serializers.DictField())
    def get_config(self, obj) -> dict:
        return config_public(obj.kind, obj.config)


class AttemptOut(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        ref_name = "DeliveryAttempt"
        fields = ["number", "status", "response_code", "error", "duration_ms", "payload", "created_at"]


class EventRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    model = serializers.CharField(source="model_name")
    version = serializers.IntegerField(allow_null=True)

    class Meta:
        ref_name = "DeliveryEvent"


class DeliveryOut(serializers.ModelSerializer):
    event = EventRefOut()
    channel = serializers.IntegerField(source="channel_id", allow_null=True)
    recipient = serializers.CharField(source="recipient.username", default=None, help_text="Built-in approver email.")
    attempts = AttemptOut(many=True)

    class Meta:
        model = Delivery
        ref_name = "Delivery"
        fields = [
            "id", "event", "channel", "recipient", "status", "attempt_count", "next_attempt_at",
            "last_error", "created_at", "finished_at", "attempts",
        ]


class ChannelListApi(APIView):
    permission_classes = [AdminWrites]

    class InputSerializer(StrictSerializer):
        kind = serializers.ChoiceField(choices=ChannelKind.choices)
        name = serializers.CharField(max_length=100)
        config = serializers.DictField(help_text="email: {addresses}; slack: {url}; webhook: {url, secret}.")
        events = serializers.ListField(child=serializers.CharField(max_length=64), help_text="Empty: every type.")
        models = serializers.ListField(child=serializers.CharField(max_length=256), required=False, default=list)
        enabled = serializers.BooleanField(required=False, default=True)

        class Meta:
            ref_name = "NotificationChannelCreate"

    @extend_schema(operation_id="channels_list", responses={200: ChannelOut(many=True), **errors(401, 403)})
    def get(self, request):
        return paginate(self, request, selectors.channel_list(), ChannelOut)

    @extend_schema(
        operation_id="channels_create",
        parameters=[IDEMPOTENCY],
        request=InputSerializer,
        responses={201: ChannelOut, **errors(400, 401, 403, 409, 413, 422)},
    )
    def post(self, request):
        def create():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            channel = services.channel_create(actor=request.user, **data.validated_data)
            return Response(ChannelOut(channel).data, status=status.HTTP_201_CREATED)

        return idempotent(request, create)


class ChannelDetailApi(APIView):
    permission_classes = [AdminWrites]

    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=100, required=False)
        config = serializers.DictField(required=False, help_text="Merged into the stored config; omit a secret to keep it.")
        events = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
        models = serializers.ListField(child=serializers.CharField(max_length=256), required=False)
        enabled = serializers.BooleanField(required=False)

        class Meta:
            ref_name = "NotificationChannelUpdate"

    @extend_schema(operation_id="channels_retrieve", responses={200: ChannelOut, **errors(401, 403, 404)})
    def get(self, request, pk):
        return Response(ChannelOut(selectors.channel_get(pk)).data)

    @extend_schema(
        operation_id="channels_update",
        request=InputSerializer,
        responses={200: ChannelOut, **errors(400, 401, 403, 404, 409, 422)},
    )
    def patch(self, request, pk):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        channel = services.channel_update(actor=request.user, channel_id=pk, **data.validated_data)
        return Response(ChannelOut(channel).data)

    @extend_schema(operation_id="channels_destroy", responses={204: None, **errors(401, 403, 404)})
    def delete(self, request, pk):
        services.channel_delete(actor=request.user, channel_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelTestApi(APIView):
    permission_classes = [AdminWrites]

    @extend_schema(
        operation_id="channels_test",
        request=None,
        responses={200: DeliveryOut, **errors(401, 403, 404)},
        description="Send a test message now (no retries); answers the delivery with its attempt.",
    )
    def post(self, request, pk):
        return Response(DeliveryOut(services.channel_test_send(actor=request.user, channel_id=pk)).data)


class ChannelDeliveriesApi(APIView):
    @extend_schema(operation_id="channels_deliveries_list", responses={200: DeliveryOut(many=True), **errors(401, 403, 404)})
    def get(self, request, pk):
        return paginate(self, request, selectors.channel_deliveries(selectors.channel_get(pk)), DeliveryOut)


class EventDeliveriesApi(APIView):
    @extend_schema(operation_id="events_deliveries_list", responses={200: DeliveryOut(many=True), **errors(401, 403, 404)})
    def get(self, request, pk):
        return paginate(self, request, selectors.event_deliveries(selectors.event_get(pk)), DeliveryOut)
