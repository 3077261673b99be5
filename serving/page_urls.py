from django.urls import path

from . import batch_views, views

urlpatterns = [
    path("models/<model:name>/deployment/", views.deployment_page, name="deployment-comparison"),
    path("models/<model:name>/batch/", batch_views.batch_jobs_page, name="batch-jobs"),
    path("batch-jobs/<int:job_id>/", batch_views.batch_job_page, name="batch-job"),
]
