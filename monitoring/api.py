"""The prediction log's REST API (API.md, Serving): list logged predictions, post ground truth."""

from datetime import date

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane.api_base import errors
from control_plane.errors import Invalid, ServiceError
from control_plane.pagination import StrictPageSize
from control_plane.query_params import bool_param, int_param, time_param
from control_plane.permissions import requires
from control_plane.roles import REGISTER

from . import selectors, services
from .models import PredictionLog

MAX_REPORTED_ITEMS = 100  # bad items named in one 422
ITEM_FIELDS = ("request_id", "ground_truth", "model", "served_on")


class TooManyItems(ServiceError):
    status = 413
    code = "payload_too_large"


class PredictionPagination(StrictPageSize, CursorPagination):
    """Cursor pages (newest first): stable while rows keep arriving, and no COUNT(*) over a
    table of millions of rows. Answers {next, previous, results}."""

    ordering = ("-ts", "-id")
    page_size = 50


class PredictionOut(serializers.ModelSerializer):
    timestamp = serializers.DateTimeField(source="ts")

    class Meta:
        model = PredictionLog
        ref_name = "Prediction"
        fields = [
            "id",
            "request_id",
            "model_name",
            "model_version",
            "variant",
            "deployment_id",
            "timestamp",
            "features",
            "prediction",
            "latency_ms",
            "ground_truth",
            "ground_truth_at",
            "extra",
        ]


class PredictionListApi(APIView):
    pagination_class = PredictionPagination

    @extend_schema(
        operation_id="predictions_list",
        parameters=[
            OpenApiParameter("model", str, description="Model name."),
            OpenApiParameter("version", int, description="Model version."),
            OpenApiParameter("variant", str, description="champion, challenger, shadow, batch or stream."),
            OpenApiParameter("request_id", str),
            OpenApiParameter("since", str, description="ISO 8601 time with timezone (inclusive)."),
            OpenApiParameter("until", str, description="ISO 8601 time with timezone (exclusive)."),
            OpenApiParameter("has_ground_truth", bool),
        ],
        responses={200: PredictionOut(many=True), **errors(401, 403, 422)},
    )
    def get(self, request):
        params = request.query_params
        qs = selectors.prediction_list(
            model_name=params.get("model", ""),
            version=int_param(params, "version"),
            variant=params.get("variant", ""),
            request_id=params.get("request_id", ""),
            since=time_param(params, "since"),
            until=time_param(params, "until"),
            has_ground_truth=bool_param(params, "has_ground_truth"),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(PredictionOut(page, many=True).data)


class FeedbackItemIn(serializers.Serializer):
    """Documents one item; parsing is done by `_parse_feedback` (10,000 items in milliseconds)."""

    request_id = serializers.CharField(max_length=128)
    ground_truth = serializers.JSONField(help_text="The observed outcome: a label, a value, or any JSON but null.")
    model = serializers.CharField(required=False, max_length=256,
                                  help_text="Only this model's predictions; all models' when left out.")
    served_on = serializers.DateField(
        required=False,
        help_text="The UTC day the prediction was served (YYYY-MM-DD): only that day of the log is searched "
        "(faster on a long log). Left out: every day. A wrong day leaves the request id in 'unknown'.",
    )

    class Meta:
        ref_name = "FeedbackItem"


class FeedbackOut(serializers.Serializer):
    updated = serializers.IntegerField(help_text="Items whose predictions got a new ground truth.")
    unchanged = serializers.IntegerField(help_text="Items whose predictions already had this ground truth.")
    rows_updated = serializers.IntegerField(help_text="Rows changed: every variant (champion, shadow...) of a request.")
    unknown = serializers.ListField(child=serializers.CharField(), help_text="Request ids with no logged prediction.")

    class Meta:
        ref_name = "FeedbackResult"


def _item_problems(raw, index: int, seen: dict[str, int]) -> dict:
    if not isinstance(raw, dict):
        return {"non_field_errors": ["Expected an object {request_id, ground_truth, model?, served_on?}."]}
    problems = {key: ["Unknown field."] for key in raw if key not in ITEM_FIELDS}
    request_id = raw.get("request_id")
    if "request_id" not in raw:
        problems["request_id"] = ["This field is required."]
    elif not isinstance(request_id, str) or not 1 <= len(request_id) <= 128:
        problems["request_id"] = ["Must be a string of 1 to 128 characters."]
    elif request_id in seen:
        problems["request_id"] = [f"Appears more than once (first at item {seen[request_id]})."]
    else:
        seen[request_id] = index
    if "ground_truth" not in raw:
        problems["ground_truth"] = ["This field is required."]
    elif raw["ground_truth"] is None:
        problems["ground_truth"] = ["May not be null."]
    model = raw.get("model", "")
    if not isinstance(model, str) or len(model) > 128:
        problems["model"] = ["Must be a model name (a string of up to 128 characters)."]
    if "served_on" in raw and _day(raw["served_on"]) is None:
        problems["served_on"] = ["Must be a date, YYYY-MM-DD (the UTC day the prediction was served)."]
    return problems


def _day(value) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def _parse_feedback(data) -> list[services.FeedbackItem]:
    if not isinstance(data, list):
        raise Invalid("Expected a JSON list of {request_id, ground_truth, model?, served_on?} items.",
                      details={"non_field_errors": ["Expected a list."]})
    if len(data) > services.FEEDBACK_MAX_ITEMS:
        raise TooManyItems(f"At most {services.FEEDBACK_MAX_ITEMS} items per request; got {len(data)}.")
    seen: dict[str, int] = {}
    bad: dict[str, dict] = {}
    for index, raw in enumerate(data):
        problems = _item_problems(raw, index, seen)
        if problems and len(bad) < MAX_REPORTED_ITEMS:
            bad[str(index)] = problems
    if bad:
        index, problems = next(iter(bad.items()))
        field, messages = next(iter(problems.items()))
        raise Invalid(f"Invalid input. Item {index}: {field}: {messages[0]}", details=bad)
    return [services.FeedbackItem(request_id=i["request_id"], ground_truth=i["ground_truth"], model=i.get("model", ""),
                                  served_on=_day(i.get("served_on")))
            for i in data]


class PredictionFeedbackApi(APIView):
    permission_classes = [requires(REGISTER)]

    @extend_schema(
        operation_id="predictions_feedback",
        request=FeedbackItemIn(many=True),
        responses={200: FeedbackOut, **errors(400, 401, 403, 413, 422)},
        description=(
            "Attach ground truth to logged predictions, up to 10,000 items per call. Every variant "
            "logged for a request id (champion, shadow...) gets it. Idempotent: the same ground truth "
            "again changes nothing. Unknown request ids are listed, not an error. Contributors and admins."
        ),
    )
    def post(self, request):
        items = _parse_feedback(request.data)
        result = services.predictions_feedback(actor=request.user, items=items)
        return Response(FeedbackOut(result).data)
