"""Drift pages (included at the site root by control_plane.urls)."""

from django.urls import path

from . import views

urlpatterns = [
    path("models/<model:name>/monitoring/", views.drift_dashboard, name="drift-dashboard"),
    path("models/<model:name>/monitoring/run/", views.drift_run, name="drift-run"),
    path("models/<model:name>/monitoring/reports/<int:pk>/", views.drift_report, name="drift-report"),
]
