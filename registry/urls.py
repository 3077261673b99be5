"""Registry pages (included at the site root by control_plane.urls)."""

from django.urls import path

from . import compare_views, views

urlpatterns = [
    path("models/<model:name>/", views.model_detail, name="model-detail"),
    path("models/<model:name>/rollback/", views.model_rollback, name="model-rollback"),
    path("models/<model:name>/compare/", compare_views.version_compare, name="version-compare"),
    path("models/<model:name>/versions/<int:version>/", views.version_detail, name="version-detail"),
    path("models/<model:name>/versions/<int:version>/stage/", views.version_stage, name="version-stage"),
    path(
        "models/<model:name>/versions/<int:version>/request-promotion/",
        views.version_request_promotion,
        name="version-request-promotion",
    ),
    path("approvals/", views.inbox, name="inbox"),
    path("promotions/<int:pk>/", views.promotion_detail, name="promotion-detail"),
    path("promotions/<int:pk>/approve/", views.promotion_approve, name="promotion-approve"),
    path("promotions/<int:pk>/reject/", views.promotion_reject, name="promotion-reject"),
    path("promotions/<int:pk>/cancel/", views.promotion_cancel, name="promotion-cancel"),
]
