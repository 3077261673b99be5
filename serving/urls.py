from django.urls import path

from . import api, batch_api, deployment_api, views

urlpatterns = [
    path("serve/<model:name>/predict", api.predict, name="serve-predict"),
    path("serve/<model:name>/invocations", api.invocations, name="serve-invocations"),
    path("models/<model:name>/deployment/", deployment_api.DeploymentApi.as_view(), name="api-deployment"),
    path(
        "models/<model:name>/deployment/comparison/",
        views.ComparisonApi.as_view(),
        name="api-deployment-comparison",
    ),
    path(
        "models/<model:name>/deployment/<str:action>/",
        deployment_api.DeploymentActionApi.as_view(),
        name="api-deployment-action",
    ),
    path("models/<model:name>/rollback-drill/", deployment_api.RollbackDrillApi.as_view(), name="api-rollback-drill"),
    path("batch-jobs/", batch_api.BatchJobListApi.as_view(), name="api-batch-jobs"),
    path("batch-jobs/<int:job_id>/", batch_api.BatchJobDetailApi.as_view(), name="api-batch-job"),
    path("batch-jobs/<int:job_id>/cancel/", batch_api.BatchJobCancelApi.as_view(), name="api-batch-job-cancel"),
]
