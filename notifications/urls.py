"""Notification pages (included at the site root by control_plane.urls)."""

from django.urls import path

from . import views

urlpatterns = [
    path("channels/", views.channel_list, name="channels"),
    path("channels/new/", views.channel_new, name="channel-new"),
    path("channels/<int:pk>/", views.channel_detail, name="channel-detail"),
    path("channels/<int:pk>/edit/", views.channel_edit, name="channel-edit"),
    path("channels/<int:pk>/test/", views.channel_test, name="channel-test"),
    path("channels/<int:pk>/delete/", views.channel_delete, name="channel-delete"),
    path("events/<int:pk>/deliveries/", views.event_deliveries, name="event-deliveries"),
]
