"""Core API: the journal (audit trail) and API tokens."""

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from . import token_scope, tokens
from .api_base import StrictSerializer, errors, paginate
from .errors import Invalid, NotFound
from .models import ApiToken, Event
from .roles import MANAGE_USERS, user_can


class EventOut(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")
    model = serializers.CharField(source="model_name")

    class Meta:
        model = Event
        ref_name = "Event"
        fields = ["id", "type", "actor", "model", "version", "payload", "request_id", "created_at"]


def event_filter(params) -> dict:
    """Journal filters shared by the API and the audit page."""
    filters = {}
    if params.get("model"):
        filters["model_name"] = params["model"]
    if params.get("type"):
        filters["type"] = params["type"]
    if params.get("actor"):
        filters["actor_name"] = params["actor"]
    if params.get("request_id"):
        filters["request_id"] = params["request_id"]
    if params.get("version"):
        try:
            filters["version"] = int(params["version"])
        except ValueError:
            raise Invalid("'version' must be a whole number.", details={"version": ["Not a number."]}) from None
    if params.get("since"):
        try:
            since = parse_datetime(params["since"].replace(" ", "+"))
        except ValueError:  # well formed but out of range, e.g. month 13
            since = None
        if since is None or since.tzinfo is None:
            raise Invalid(
                "'since' must be an ISO 8601 time with a timezone.", details={"since": ["Invalid datetime."]}
            )
        filters["created_at__gte"] = since
    return filters


class EventListApi(APIView):
    @extend_schema(
        operation_id="events_list",
        parameters=[
            OpenApiParameter("model", str),
            OpenApiParameter("type", str, description="For example promotion.approved"),
            OpenApiParameter("since", str, description="ISO 8601 time with timezone"),
            OpenApiParameter("actor", str),
            OpenApiParameter("version", int),
            OpenApiParameter("request_id", str),
        ],
        responses={200: EventOut(many=True), **errors(401, 403, 422)},
    )
    def get(self, request):
        qs = token_scope.only_allowed(Event.objects, "model_name").filter(**event_filter(request.query_params))
        qs = qs.order_by("-id")
        return paginate(self, request, qs, EventOut)


class TokenOut(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username")
    read_only = serializers.BooleanField()
    models = serializers.ListField(source="models_allowed", child=serializers.CharField())
    active = serializers.BooleanField(source="is_active")

    class Meta:
        model = ApiToken
        ref_name = "ApiToken"
        fields = [
            "id",
            "name",
            "user",
            "prefix",
            "read_only",
            "serve_only",
            "models",
            "active",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        ]


class IssuedTokenOut(TokenOut):
    token = serializers.CharField(help_text="The secret; shown only in this answer.")

    class Meta(TokenOut.Meta):
        ref_name = "IssuedApiToken"
        fields = [*TokenOut.Meta.fields, "token"]


def _visible_tokens(user):
    """Admins see every token, others their own; a token limited to some models sees
    only tokens limited to those models."""
    qs = ApiToken.objects.select_related("user")
    qs = qs if user_can(user, MANAGE_USERS) else qs.filter(user=user)
    via = token_scope.current_token()
    if via is not None and via.models_allowed:
        qs = qs.filter(models_allowed__contained_by=via.models_allowed).exclude(models_allowed=[])
    return qs


class TokenListApi(APIView):
    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=100)
        read_only = serializers.BooleanField(required=False, default=False)
        expires_days = serializers.IntegerField(required=False, min_value=1, max_value=3650, allow_null=True)
        models = serializers.ListField(child=serializers.CharField(), required=False, default=list)
        serve_only = serializers.BooleanField(required=False, default=False)
        user = serializers.CharField(
            required=False, help_text="Your own username, if given: a token acts only for the person who made it."
        )

        class Meta:
            ref_name = "TokenCreate"

    @extend_schema(operation_id="tokens_list", responses={200: TokenOut(many=True), **errors(401, 403)})
    def get(self, request):
        return paginate(self, request, _visible_tokens(request.user), TokenOut)

    @extend_schema(
        operation_id="tokens_create", request=InputSerializer, responses={201: IssuedTokenOut, **errors(400, 401, 403, 422)}
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = dict(data.validated_data)
        if d.pop("user", request.user.username) != request.user.username:
            tokens.refuse_for_another_user()
        issued = tokens.token_create(actor=request.user, **d)
        body = TokenOut(issued.token).data | {"token": issued.secret}
        return Response(body, status=status.HTTP_201_CREATED)


class TokenDetailApi(APIView):
    @extend_schema(operation_id="tokens_retrieve", responses={200: TokenOut, **errors(401, 403, 404)})
    def get(self, request, pk):
        token = _visible_tokens(request.user).filter(pk=pk).first()
        if token is None:
            raise NotFound(f"Token {pk} does not exist.")
        return Response(TokenOut(token).data)

    @extend_schema(operation_id="tokens_revoke", responses={204: None, **errors(401, 403, 404)})
    def delete(self, request, pk):
        tokens.token_revoke(actor=request.user, token_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
