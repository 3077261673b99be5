from django.contrib import admin
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import api, health, views


class ModelNameConverter:
    """A model name in a URL path segment: anything but '/' (registry/names.py forbids it
    in names). Django decodes the path before matching, so "Model%201" arrives as
    "Model 1"; reverse() and {% url %} quote names on the way out."""

    regex = r"[^/]+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(ModelNameConverter, "model")

api_v1 = [
    path("events/", api.EventListApi.as_view(), name="api-events"),
    path("tokens/", api.TokenListApi.as_view(), name="api-tokens"),
    path("tokens/<int:pk>/", api.TokenDetailApi.as_view(), name="api-token"),
    path("", include("registry.api_urls")),
    path("", include("monitoring.api_urls")),
    path("", include("serving.urls")),
    path("", include("notifications.api_urls")),
    path("", include("features.api_urls")),
    path("", include("retraining.api_urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics_view, name="metrics"),
    path("api/v1/", include(api_v1)),
    path("api/2.0/mlflow/", include("registry.mlflow_urls")),
    path("ajax-api/2.0/mlflow/", include("registry.mlflow_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", views.home, name="home"),
    path("audit/", views.audit_trail, name="audit"),
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("", include("registry.urls")),
    path("", include("notifications.urls")),
    path("", include("serving.page_urls")),
    path("", include("monitoring.page_urls")),
    path("", include("features.page_urls")),
    path("", include("retraining.page_urls")),
]

handler404 = "control_plane.error_pages.page_not_found"
handler403 = "control_plane.error_pages.permission_denied"
handler500 = "control_plane.error_pages.server_error"
