"""A lean Django handler for the data plane.

Every scoring request (POST /api/v1/serve/...) and every online feature read (POST
/api/v1/features/online/) goes through a Django handler of its own, with only the middleware
these views use (request id, metrics, JSON errors, security headers, body limit, input sanity)
and a URLconf of those routes; every other request goes to the full stack. Same
views, same answers, same signals (database connections are still recycled per request):
what is skipped is sessions, CSRF, users, messages, static files and resolving against the
whole site's URLconf, which together cost about as much as scoring a tree ensemble.
"""

import re

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.utils.module_loading import import_string

# Exactly the routes of serving/fast_urls.py (anything else, even a typo of them, gets the
# full stack and its error pages); the name as control_plane.urls.ModelNameConverter.
DATA_PLANE_PATH = re.compile(r"/api/v1/serve/[^/]+/(?:predict|invocations)|/api/v1/features/online/")
URLCONF = "serving.fast_urls"
MIDDLEWARE = (
    "control_plane.middleware.RequestIdMiddleware",
    "control_plane.middleware.MetricsMiddleware",
    "control_plane.middleware.ApiJsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "control_plane.middleware.BodySizeLimitMiddleware",
    "control_plane.middleware.InputSanityMiddleware",
)


class ServingHandler(WSGIHandler):
    def load_middleware(self, is_async=False):
        self._view_middleware, self._template_response_middleware, self._exception_middleware = [], [], []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(MIDDLEWARE):
            handler = convert_exception_to_response(import_string(path)(handler))
        self._middleware_chain = handler

    def get_response(self, request):
        request.urlconf = URLCONF
        return super().get_response(request)


class ServingFastPath:
    """WSGI application: data-plane POSTs to ServingHandler, everything else to `app`."""

    def __init__(self, app):
        self.app = app
        self.serving = ServingHandler()

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST" and DATA_PLANE_PATH.fullmatch(environ.get("PATH_INFO", "")):
            return self.serving(environ, start_response)
        return self.app(environ, start_response)
