import time

from django.conf import settings
from django.http import JsonResponse

from . import metrics
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
