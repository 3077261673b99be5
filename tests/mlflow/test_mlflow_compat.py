"""What MLflow's own registry tests expect of a server, checked with the real MLflow client
against the live control plane: names with spaces, MLflow's timestamps and error wording,
copied versions that point at the original's artifacts, and source checks for every form."""

import os
import time

import pytest

from registry.models import ModelVersion, RegisteredModel

from .helpers import error_of

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:.*is deprecated since 2.9.0:FutureWarning"),
]


def _tick():
    time.sleep(0.005)  # distinct milliseconds between two changes


def test_names_with_spaces_work_through_the_mlflow_client(registry, admin):
    client = registry.as_user(admin)

    client.create_registered_model("Model 1", tags={"team": "growth"})
    client.create_model_version("Model 1", "s3://bucket/model", "run_id")
    client.set_registered_model_alias("Model 1", "test alias".replace(" ", "_"), "1")
    client.rename_registered_model("Model 1", "Model #1?")

    assert client.get_model_version_by_alias("Model #1?", "test_alias").version == "1"
    assert [m.name for m in client.search_registered_models("name = 'Model #1?'")] == ["Model #1?"]
    assert [m.name for m in client.search_registered_models("name IN ('Model #1?', 'other')")] == ["Model #1?"]
    assert client.search_model_versions("name NOT IN ('Model #1?')") == []
    assert [v.version for v in client.search_model_versions("run_id NOT IN ('x') AND name = 'Model #1?'")] == ["1"]
    assert RegisteredModel.objects.get(name="Model #1?").versions.count() == 1
    err = error_of(client.create_registered_model, "team/model")
    assert err.error_code == "INVALID_PARAMETER_VALUE" and "contains '/'" in err.message
    client.delete_registered_model("Model #1?")
    assert not RegisteredModel.objects.exists()


def test_timestamps_move_as_mlflows_do(registry, contributor):
    client = registry.as_user(contributor)

    model = client.create_registered_model("churn")
    assert model.creation_timestamp == model.last_updated_timestamp
    _tick()
    v1 = client.create_model_version("churn", "s3://bucket/a", "run_id")
    client.create_model_version("churn", "s3://bucket/b", "run_id")
    assert v1.creation_timestamp == v1.last_updated_timestamp
    _tick()
    staged = client.transition_model_version_stage("churn", "1", "Staging")
    after_stage = client.get_registered_model("churn").last_updated_timestamp
    _tick()
    client.set_model_version_tag("churn", "1", "k", "v")
    client.update_model_version("churn", "1", description="changed")
    unchanged = client.get_registered_model("churn").last_updated_timestamp
    _tick()
    client.delete_model_version("churn", "2")
    after_delete = client.get_registered_model("churn").last_updated_timestamp

    assert staged.last_updated_timestamp > v1.last_updated_timestamp
    assert after_stage == staged.last_updated_timestamp  # the stage change updated the model
    assert unchanged == after_stage  # a version's description and tags do not
    assert after_delete > after_stage  # deleting a version does
    row = RegisteredModel.objects.get(name="churn")
    assert int(row.updated_at.timestamp() * 1000) == after_delete


def test_write_errors_use_mlflows_wording(registry, contributor):
    client = registry.as_user(contributor)
    client.create_registered_model("churn")
    client.create_registered_model("fraud")

    exists = error_of(client.create_registered_model, "churn")
    renamed_onto = error_of(client.rename_registered_model, "churn", "fraud")
    missing_model = error_of(client.update_registered_model, "nope", "d")
    missing_version = error_of(client.update_model_version, "churn", "7", "d")
    missing_for_stage = error_of(client.transition_model_version_stage, "churn", "7", "Staging")

    assert exists.message == "RESOURCE_ALREADY_EXISTS: Registered Model (name=churn) already exists."
    assert renamed_onto.message == "RESOURCE_ALREADY_EXISTS: Registered Model (name=fraud) already exists."
    assert missing_model.message == "RESOURCE_DOES_NOT_EXIST: Registered Model with name=nope not found"
    assert missing_version.message == "RESOURCE_DOES_NOT_EXIST: Model Version (name=churn, version=7) not found"
    assert missing_for_stage.message == "RESOURCE_DOES_NOT_EXIST: Model Version (name=churn, version=7) not found"


def test_a_copy_downloads_the_originals_artifacts(registry, contributor, logged_runs):
    client = registry.as_user(contributor)
    run_id, model_id = logged_runs[0]
    client.create_registered_model("churn")
    original = client.create_model_version("churn", f"models:/{model_id}", run_id, model_id=model_id)
    client.set_registered_model_alias("churn", "candidate", "1")

    copy = client.copy_model_version("models:/churn@candidate", "churn-copy")

    row = ModelVersion.objects.get(model__name="churn-copy", version=int(copy.version))
    assert client.get_model_version("churn-copy", copy.version).source == "models:/churn/1"
    assert client.get_model_version_download_uri("churn-copy", copy.version) == client.get_model_version_download_uri(
        "churn", original.version
    )
    assert row.storage_location and not row.storage_location.startswith("models:/")
    assert row.input_schema == ModelVersion.objects.get(model__name="churn").input_schema != []


def test_a_copy_of_a_source_outside_mlflow_downloads_that_source(live_server, registry, contributor, settings):
    settings.MLFLOW_TRACKING_URI = ""
    client = registry.as_user(contributor)
    client.create_registered_model("churn")
    client.create_model_version("churn", "s3://bucket/model", "run_id")

    copy = client.copy_model_version("models:/churn/1", "churn")

    assert copy.version == "2"
    assert client.get_model_version_download_uri("churn", "2") == "s3://bucket/model"
    refused = error_of(client.create_model_version, "churn", "models:/churn/9")
    assert refused.error_code == "INVALID_PARAMETER_VALUE" and "names no version of this registry" in refused.message


# the first folder tests/settings.py allows for local model sources
SOURCE_ROOT = os.environ["LOCAL_SOURCE_ROOTS"].split(",")[0].rstrip("/")


@pytest.mark.parametrize(
    "source, run_id, says",
    [
        ("runs:/run_id/model", "", "run_id"),  # a run id that is not hex was not checked before
        # inside LOCAL_SOURCE_ROOTS (egress rule), a local path still needs the run it came from
        (f"{SOURCE_ROOT}/models/churn", "", "run_id (or model_id)"),
        (f"file://{SOURCE_ROOT}/models/churn", "", "run_id (or model_id)"),
        ("/srv/models/churn", "", "LOCAL_SOURCE_ROOTS"),
        ("mlflow-artifacts:/0/elsewhere/model", "", "run_id (or model_id)"),
        ("s3://bucket/models/../../secrets", "", "'..'"),
    ],
)
def test_every_source_form_is_checked_when_a_tracking_server_is_set(registry, contributor, source, run_id, says):
    client = registry.as_user(contributor)
    client.create_registered_model("churn")

    err = error_of(client.create_model_version, "churn", source, run_id or None)

    assert err.error_code == "INVALID_PARAMETER_VALUE", err.message
    assert says in err.message
    assert not ModelVersion.objects.exists()


def test_an_artifact_uri_inside_its_models_artifacts_is_read(registry, contributor, logged_runs):
    from mlflow import MlflowClient

    run_id, model_id = logged_runs[0]
    location = MlflowClient(tracking_uri=registry.tracking_url).get_logged_model(model_id).artifact_location
    client = registry.as_user(contributor)
    client.create_registered_model("churn")

    inside = client.create_model_version("churn", location, run_id, model_id=model_id)
    outside = error_of(client.create_model_version, "churn", location.rsplit("/", 3)[0] + "/other", run_id)

    row = ModelVersion.objects.get(version=int(inside.version))
    assert "sklearn" in row.flavors and row.input_schema and row.storage_location == location
    assert outside.error_code == "INVALID_PARAMETER_VALUE" and "not inside the artifact root" in outside.message
