"""Small pieces every API module uses."""

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

from .pagination import PageNumberPagination

# The descriptions of the error statuses, shared with documents written by hand.
ERROR_TEXT = {
    400: "Malformed request: the body is not JSON, or is nested too deep",
    401: "Not authenticated: no token, or an expired or revoked one",
    403: "Permission denied: the role or the token does not allow this",
    404: "Not found: a named object, or a page past the end of a list",
    409: "State conflict: the object is not in a state that allows this",
    413: "Body too large",
    422: "Invalid input: `details` names each field (unknown fields included)",
}


class StrictSerializer(serializers.Serializer):
    """An input serializer that names unknown fields instead of ignoring them."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        value = super().to_internal_value(data)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        not_text = [name for name, field in self.fields.items() if name in data and _not_text(field, data[name])]
        if not_text:
            raise serializers.ValidationError({name: ["Must be a string."] for name in not_text})
        return value


def _not_text(field, value) -> bool:
    """A number where a string is wanted: DRF's CharField would quietly read 0 as "0"."""
    if isinstance(field, serializers.CharField):
        return value is not None and not isinstance(value, str)
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        return any(_not_text(field.child, item) for item in value)
    if isinstance(field, serializers.DictField) and isinstance(value, dict):
        return any(_not_text(field.child, item) for item in value.values())
    return False


ERROR = inline_serializer(
    "Error",
    fields={
        "error": inline_serializer(
            "ErrorBody",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "details": serializers.DictField(),
            },
        )
    },
)


def errors(*statuses: int) -> dict:
    """OpenAPI responses for the error statuses an endpoint can answer."""
    return {s: OpenApiResponse(ERROR, description=ERROR_TEXT[s]) for s in statuses}


def paginate(view, request, queryset, serializer_class):
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
