"""The URLconf of the data plane's own handler (serving/fast_path.py): the two scoring
routes and the online feature read only, at the same paths as in the main URLconf, so
metrics label them the same."""

from django.urls import path

import control_plane.urls  # noqa: F401 - registers the "model" path converter
from features.api_data import OnlineApi

from . import api

urlpatterns = [
    path("api/v1/serve/<model:name>/predict", api.predict),
    path("api/v1/serve/<model:name>/invocations", api.invocations),
    path("api/v1/features/online/", OnlineApi.as_view()),
]
