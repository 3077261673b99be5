"""One error format for the whole API: {"error": {"code", "message", "details"}}.

Services raise the exceptions below; the DRF handler turns them, and DRF's own
errors, into that shape with the status the API contract names.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class Invalid(ServiceError):
    status = 422
    code = "validation_error"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


# The code an error answer carries when nothing more specific names it.
STATUS_CODES = {
    400: "malformed_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "throttled",
    500: "internal_error",
}


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _first_message(details) -> str:
    if isinstance(details, dict):
        for field, value in details.items():
            return f"{field}: {_first_message(value)}"
    if isinstance(details, list) and details:
        return _first_message(details[0])
    return str(details)


def api_exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("payload_too_large", "Request body is too large."), status=413)
    if isinstance(exc, drf_exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return Response(
            error_body("validation_error", f"Invalid input. {_first_message(details)}", details),
            status=422,
        )
    if isinstance(exc, drf_exceptions.ParseError):
        return Response(error_body("malformed_request", f"Malformed request body: {exc.detail}"), status=400)
    if isinstance(exc, Http404):
        return Response(error_body("not_found", str(exc) or "Not found."), status=404)
    from rest_framework.views import exception_handler  # late: rest_framework.views imports our auth classes

    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = getattr(exc, "detail", str(exc))
    response.data = error_body(STATUS_CODES.get(response.status_code, "error"), str(detail))
    return response
