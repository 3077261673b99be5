from django.urls import path

from . import api, promotions_api

urlpatterns = [
    path("models/", api.ModelListApi.as_view(), name="api-models"),
    path("models/<model:name>/", api.ModelDetailApi.as_view(), name="api-model"),
    path("models/<model:name>/versions/", api.VersionListApi.as_view(), name="api-versions"),
    path("models/<model:name>/versions/<int:version>/", api.VersionDetailApi.as_view(), name="api-version"),
    path("models/<model:name>/versions/<int:version>/stage/", api.VersionStageApi.as_view(), name="api-version-stage"),
    path("models/<model:name>/rollback/", api.ModelRollbackApi.as_view(), name="api-model-rollback"),
    path("models/<model:name>/history/", api.ModelHistoryApi.as_view(), name="api-model-history"),
    path("import/mlflow/", api.MlflowImportApi.as_view(), name="api-import-mlflow"),
    path("promotions/", promotions_api.PromotionListApi.as_view(), name="api-promotions"),
    path("promotions/<int:pk>/", promotions_api.PromotionDetailApi.as_view(), name="api-promotion"),
    path("promotions/<int:pk>/approve/", promotions_api.PromotionApproveApi.as_view(), name="api-promotion-approve"),
    path("promotions/<int:pk>/reject/", promotions_api.PromotionRejectApi.as_view(), name="api-promotion-reject"),
    path("promotions/<int:pk>/cancel/", promotions_api.PromotionCancelApi.as_view(), name="api-promotion-cancel"),
]
