"""MLflow's ModelRegistryService routes (mlflow/protos/model_registry.proto), included
by control_plane.urls under /api/2.0/mlflow/ and /ajax-api/2.0/mlflow/."""

from django.urls import path, re_path

from . import mlflow_api as m
from .mlflow_api import endpoint, read, write

urlpatterns = [
    path("registered-models/create", endpoint(POST=write(m.create_registered_model))),
    path("registered-models/rename", endpoint(POST=write(m.rename_registered_model))),
    path("registered-models/update", endpoint(PATCH=write(m.update_registered_model))),
    path("registered-models/delete", endpoint(DELETE=write(m.delete_registered_model))),
    path("registered-models/get", endpoint(GET=read(m.get_registered_model))),
    path("registered-models/search", endpoint(GET=read(m.search_registered_models))),
    path(
        "registered-models/get-latest-versions",
        endpoint(POST=read(m.get_latest_versions), GET=read(m.get_latest_versions)),
    ),
    path("registered-models/set-tag", endpoint(POST=write(m.set_registered_model_tag))),
    path("registered-models/delete-tag", endpoint(DELETE=write(m.delete_registered_model_tag))),
    path(
        "registered-models/alias",
        endpoint(
            POST=write(m.set_registered_model_alias),
            DELETE=write(m.delete_registered_model_alias),
            GET=read(m.get_model_version_by_alias),
        ),
    ),
    path("model-versions/create", endpoint(POST=write(m.create_model_version))),
    path("model-versions/update", endpoint(PATCH=write(m.update_model_version))),
    path("model-versions/delete", endpoint(DELETE=write(m.delete_model_version))),
    path("model-versions/get", endpoint(GET=read(m.get_model_version))),
    path("model-versions/search", endpoint(GET=read(m.search_model_versions))),
    path("model-versions/get-download-uri", endpoint(GET=read(m.get_model_version_download_uri))),
    path("model-versions/transition-stage", endpoint(POST=write(m.transition_model_version_stage))),
    path("model-versions/set-tag", endpoint(POST=write(m.set_model_version_tag))),
    path("model-versions/delete-tag", endpoint(DELETE=write(m.delete_model_version_tag))),
    re_path(r"^(?P<rest>.*)$", m.endpoint_not_found),
]
