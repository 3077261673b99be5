from django.urls import path

from . import api, drift_api, reference_api

urlpatterns = [
    path("predictions/", api.PredictionListApi.as_view(), name="api-predictions"),
    path("predictions/feedback/", api.PredictionFeedbackApi.as_view(), name="api-predictions-feedback"),
    path(
        "models/<model:name>/versions/<int:version>/reference/",
        reference_api.ReferenceApi.as_view(),
        name="api-reference",
    ),
    path("models/<model:name>/monitor/", drift_api.MonitorPolicyApi.as_view(), name="api-monitor-policy"),
    path("models/<model:name>/drift/run/", drift_api.DriftRunApi.as_view(), name="api-drift-run"),
    path("models/<model:name>/drift/reports/", drift_api.DriftReportListApi.as_view(), name="api-drift-reports"),
    path(
        "models/<model:name>/drift/reports/<int:report_id>/",
        drift_api.DriftReportDetailApi.as_view(),
        name="api-drift-report",
    ),
]
