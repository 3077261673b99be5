"""The 404, 403, 500 and CSRF-failure pages: branded, in words for people. They never show
Django's internals (a Resolver404's route list, "No BatchJob matches the given query."):
only a message our own code wrote for the person. Under /api/ they answer the API's JSON
error shape instead."""

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404

from .errors import error_body

API_PREFIXES = ("/api/", "/ajax-api/")
DJANGO_WORDING = "matches the given query."


def _own_message(exception) -> str:
    """The message a view of ours gave, or '' for Django's own wording."""
    if exception is None or isinstance(exception, Resolver404) or not exception.args:
        return ""
    message = exception.args[0]
    if not isinstance(message, str) or message.endswith(DJANGO_WORDING):
        return ""
    return message


def _api(request) -> bool:
    return request.path.startswith(API_PREFIXES)


def page_not_found(request, exception=None):
    message = _own_message(exception) if isinstance(exception, Http404) else ""
    if _api(request):
        return JsonResponse(error_body("not_found", message or "Nothing exists at this address."), status=404)
    return render(request, "404.html", {"message": message}, status=404)


def permission_denied(request, exception=None):
    message = _own_message(exception)
    if _api(request):
        return JsonResponse(error_body("permission_denied", message or "You may not do this."), status=403)
    return render(request, "403.html", {"message": message}, status=403)


def server_error(request):
    if _api(request):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side; it is logged. Try again."), status=500
        )
    return render(request, "500.html", status=500)


def csrf_failure(request, reason=""):
    message = (
        "This form was stale: your session expired or the page was open too long. "
        "Go back, reload the page and send it again."
    )
    return render(request, "403.html", {"message": message}, status=403)
