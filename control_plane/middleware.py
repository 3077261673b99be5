import time

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import JsonResponse

from . import input_sanity, metrics
from .errors import STATUS_CODES, error_body
from .request_context import (
    new_request_id,
    reset_current_request,
    reset_request_id,
    set_current_request,
    set_request_id,
)


class RequestIdMiddleware:
    """Honour or generate X-Request-ID, expose it to logs and events, echo it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = new_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        token = set_request_id(request_id)
        current = set_current_request(request)
        try:
            response = self.get_response(request)
        finally:
            reset_current_request(current)
            reset_request_id(token)
        if "X-Request-ID" not in response:  # a view may answer for a request id the body named
            response["X-Request-ID"] = request_id
        return response


class MetricsMiddleware:
    """Count requests and their latency by route (the URL pattern, not the raw path)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None and match.route else "unmatched"
        metrics.observe_request(request.method, route, response.status_code, time.perf_counter() - started)
        return response


class BodySizeLimitMiddleware:
    """Refuse bodies over MAX_REQUEST_BYTES with 413 before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES:
            return JsonResponse(
                {
                    "error": {
                        "code": "payload_too_large",
                        "message": f"Request body of {length} bytes is over the limit of "
                        f"{settings.MAX_REQUEST_BYTES} bytes.",
                        "details": {"limit_bytes": settings.MAX_REQUEST_BYTES},
                    }
                },
                status=413,
            )
        return self.get_response(request)


MLFLOW_PREFIXES = ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/")
# Scoring rows may carry NaN or Infinity: the serving schema check names the feature (422).
NON_FINITE_ALLOWED_PREFIX = "/api/v1/serve/"
CHECKED_TEXT_TYPES = ("", "application/json", "text/plain", "text/csv")


class InputSanityMiddleware:
    """Refuse what no view can parse or store (control_plane/input_sanity.py): NUL and lone
    surrogates in parameters and JSON, JSON nested too deep, non-finite JSON numbers.
    API paths answer in their own error format; pages get Django's 400."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            self._check(request)
        except input_sanity.Rejected as exc:
            return self._refusal(request, exc)
        return self.get_response(request)

    @staticmethod
    def _check(request) -> None:
        if request.META.get("QUERY_STRING"):
            input_sanity.check_params((key, value) for key, values in request.GET.lists() for value in values)
        if request.method in ("GET", "HEAD", "OPTIONS") and not request.META.get("CONTENT_LENGTH"):
            return
        content_type = request.content_type or ""
        if content_type == "application/x-www-form-urlencoded":
            input_sanity.check_params((key, value) for key, values in request.POST.lists() for value in values)
        elif content_type in CHECKED_TEXT_TYPES or content_type.endswith("+json"):
            body = request.body
            if not body:
                return
            if content_type == "text/csv":
                if b"\x00" in body:
                    raise input_sanity.Rejected("body", "The CSV body contains a NUL character.")
                return
            input_sanity.check_json(
                body,
                max_depth=settings.MAX_JSON_DEPTH,
                allow_non_finite=request.path_info.startswith(NON_FINITE_ALLOWED_PREFIX),
            )

    @staticmethod
    def _refusal(request, exc: input_sanity.Rejected):
        path = request.path_info
        if path.startswith(MLFLOW_PREFIXES):  # MLflow's error shape, as its client expects
            return JsonResponse({"error_code": "INVALID_PARAMETER_VALUE", "message": exc.message}, status=400)
        if path.startswith("/api/"):
            return JsonResponse(error_body(exc.code, exc.message, {exc.field: [exc.message]}), status=exc.status)
        raise BadRequest(exc.message)


class ApiJsonErrorsMiddleware:
    """Under /api/, every error answers in the API's JSON format, whoever produced it:
    the URL resolver's 404, require_POST's 405, the CSRF 403, Django's 400 and 500 pages."""

    KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "X-Request-ID")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400 or not request.path_info.startswith("/api/"):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        status = response.status_code
        message = {
            404: f"No API endpoint at {request.path}.",
            405: f"{request.method} is not allowed here; allowed: {response.get('Allow', 'none')}.",
            500: "Internal error; the server log has the details under this request's X-Request-ID.",
        }.get(status, response.reason_phrase + ".")
        json_response = JsonResponse(error_body(STATUS_CODES.get(status, "error"), message), status=status)
        for header in self.KEPT_HEADERS:
            if header in response:
                json_response[header] = response[header]
        return json_response
