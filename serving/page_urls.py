from django.urls import path

from . import views

urlpatterns = [
    path("models/<model:name>/deployment/", views.deployment_page, name="deployment-comparison"),
]
