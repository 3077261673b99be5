from django.urls import path

from . import views

urlpatterns = [
    path("features/", views.index, name="features"),
    path("features/views/<str:name>/", views.view_detail, name="feature-view"),
    path("features/views/<str:name>/materialize/", views.view_materialize, name="feature-view-materialize"),
    path("features/services/<str:name>/", views.service_detail, name="feature-service"),
]
