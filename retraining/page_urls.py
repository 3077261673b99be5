"""Retraining pages (included at the site root by control_plane.urls)."""

from django.urls import path

from . import views

urlpatterns = [
    path("models/<model:name>/retraining/", views.retraining_model, name="retraining-model"),
    path("models/<model:name>/retraining/policy/", views.retraining_policy_save, name="retraining-policy-save"),
    path("models/<model:name>/retraining/run/", views.retraining_run_now, name="retraining-run-now"),
    path("retraining/runs/<int:run_id>/", views.retraining_run, name="retraining-run"),
    path("retraining/runs/<int:run_id>/<str:action>/", views.retraining_run_action, name="retraining-run-action"),
    path("replays/<int:job_id>/", views.replay_page, name="replay"),
]
