from django.urls import path

from . import batch_views, deployment_views

urlpatterns = [
    path("models/<model:name>/deployment/", deployment_views.deployment_page, name="deployment-comparison"),
    path("models/<model:name>/deployment/start/", deployment_views.deployment_start, name="deployment-start"),
    path(
        "models/<model:name>/deployment/<str:action>/", deployment_views.deployment_act, name="deployment-action"
    ),
    path("models/<model:name>/batch/", batch_views.batch_jobs_page, name="batch-jobs"),
    path("models/<model:name>/batch/start/", batch_views.batch_start, name="batch-start"),
    path("batch-jobs/<int:job_id>/", batch_views.batch_job_page, name="batch-job"),
    path(
        "batch-jobs/<int:job_id>/<str:which>/", batch_views.batch_download, name="batch-job-download"
    ),
]
