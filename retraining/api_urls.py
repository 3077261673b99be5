from django.urls import path

from . import api

urlpatterns = [
    path("models/<model:name>/retraining/", api.RetrainingPolicyApi.as_view(), name="api-retraining-policy"),
    path("models/<model:name>/retraining/run/", api.RetrainingRunStartApi.as_view(), name="api-retraining-run-start"),
    path("models/<model:name>/retraining/runs/", api.RetrainingRunListApi.as_view(), name="api-retraining-runs"),
    path("retraining/runs/<int:run_id>/", api.RetrainingRunDetailApi.as_view(), name="api-retraining-run"),
    path("retraining/runs/<int:run_id>/retry/", api.RetrainingRunRetryApi.as_view(), name="api-retraining-run-retry"),
    path("retraining/runs/<int:run_id>/cancel/", api.RetrainingRunCancelApi.as_view(), name="api-retraining-run-cancel"),
    path("models/<model:name>/versions/<int:version>/replay/", api.ReplayStartApi.as_view(), name="api-replay-start"),
    path("replays/<int:job_id>/", api.ReplayDetailApi.as_view(), name="api-replay"),
]
