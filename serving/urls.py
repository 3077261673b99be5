from django.urls import path

from . import api, deployment_api

urlpatterns = [
    path("serve/<model:name>/predict", api.predict, name="serve-predict"),
    path("serve/<model:name>/invocations", api.invocations, name="serve-invocations"),
    path("models/<model:name>/deployment/", deployment_api.DeploymentApi.as_view(), name="api-deployment"),
    path(
        "models/<model:name>/deployment/<str:action>/",
        deployment_api.DeploymentActionApi.as_view(),
        name="api-deployment-action",
    ),
]
