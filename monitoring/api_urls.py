from django.urls import path

from . import api

urlpatterns = [
    path("predictions/", api.PredictionListApi.as_view(), name="api-predictions"),
    path("predictions/feedback/", api.PredictionFeedbackApi.as_view(), name="api-predictions-feedback"),
]
