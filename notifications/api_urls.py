from django.urls import path

from . import api

urlpatterns = [
    path("channels/", api.ChannelListApi.as_view(), name="api-channels"),
    path("channels/<int:pk>/", api.ChannelDetailApi.as_view(), name="api-channel"),
    path("channels/<int:pk>/test/", api.ChannelTestApi.as_view(), name="api-channel-test"),
    path("channels/<int:pk>/deliveries/", api.ChannelDeliveriesApi.as_view(), name="api-channel-deliveries"),
    path("events/<int:pk>/deliveries/", api.EventDeliveriesApi.as_view(), name="api-event-deliveries"),
]
