from django.urls import path

from . import api, api_data, api_jobs

urlpatterns = [
    path("features/apply/", api.ApplyApi.as_view(), name="api-features-apply"),
    path("features/entities/", api.EntityListApi.as_view(), name="api-feature-entities"),
    path("features/entities/<str:name>/", api.EntityDetailApi.as_view(), name="api-feature-entity"),
    path("features/views/", api.ViewListApi.as_view(), name="api-feature-views"),
    path("features/views/<str:name>/", api.ViewDetailApi.as_view(), name="api-feature-view"),
    path("features/views/<str:name>/materialize/", api_data.MaterializeApi.as_view(), name="api-feature-materialize"),
    path("features/views/<str:name>/runs/", api_data.RunListApi.as_view(), name="api-feature-runs"),
    path("features/services/", api.ServiceListApi.as_view(), name="api-feature-services"),
    path("features/services/<str:name>/", api.ServiceDetailApi.as_view(), name="api-feature-service"),
    path("features/online/", api_data.OnlineApi.as_view(), name="api-features-online"),
    path("features/push/", api_data.PushApi.as_view(), name="api-features-push"),
    path("features/historical/", api_data.HistoricalApi.as_view(), name="api-features-historical"),
    path("features/historical/jobs/<int:job_id>/", api_jobs.HistoricalJobApi.as_view(), name="api-features-historical-job"),
    path("features/historical/jobs/<int:job_id>/download/", api_jobs.HistoricalJobDownloadApi.as_view(),
         name="api-features-historical-download"),
]
