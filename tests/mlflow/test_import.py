"""Import from the MLflow server's own registry, twice: the second run changes nothing."""

import io

import pytest
from django.core.management import call_command

from control_plane.models import Event
from registry.models import ModelAlias, ModelVersion, PromotionRequest, RegisteredModel, StageTransition

from .conftest import log_sklearn_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def source_registry(tracking):
    """A model in the MLflow server's own registry (shared by the session, hence a fresh
    name each time), with versions in every stage, an alias and tags. Yields its name."""
    import uuid
    import warnings

    from mlflow import MlflowClient

    name = f"Card fraud #{uuid.uuid4().hex[:8]}"  # MLflow allows spaces and '#': the import keeps the name
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    client.create_registered_model(name, tags={"team": "risk"}, description="Card fraud.")
    infos = [log_sklearn_model()[1] for _ in range(3)]
    for info in infos:
        # MLflow 3.17's server wants the logged model's id beside a models:/m-... source.
        client.create_model_version(name, info.model_uri, run_id=None, description="retrain", model_id=info.model_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stages are deprecated in MLflow; still what teams use
        client.transition_model_version_stage(name, "1", "Archived")
        client.transition_model_version_stage(name, "2", "Production")
        client.transition_model_version_stage(name, "3", "Staging")
    client.set_registered_model_alias(name, "challenger", "3")
    client.set_model_version_tag(name, "2", "validated", "yes")
    return name


def state(name):
    versions = ModelVersion.objects.filter(model__name=name).order_by("version")
    return {
        "model": RegisteredModel.objects.values("description", "tags").get(name=name),
        "versions": [(v.version, v.stage, v.source, v.tags, v.description) for v in versions],
        "aliases": sorted(ModelAlias.objects.values_list("alias", "version__version")),
        "events": Event.objects.count(),
        "transitions": StageTransition.objects.count(),
    }


def test_import_command_twice_gives_the_same_state(tracking, source_registry, admin):
    name = source_registry
    args = ("import_mlflow_registry", "--from", tracking, "--models", name, "--as", admin.username, "--keep-production")
    out = io.StringIO()
    call_command(*args, stdout=out)
    first = state(name)

    out2 = io.StringIO()
    call_command(*args, stdout=out2)

    assert state(name) == first
    assert "0 change(s)" in out2.getvalue(), out2.getvalue()
    assert RegisteredModel.objects.filter(name=name).exists()  # the name as MLflow has it
    assert first["model"] == {"description": "Card fraud.", "tags": {"team": "risk"}}
    assert [(v, stage) for v, stage, *_ in first["versions"]] == [(1, "archived"), (2, "production"), (3, "staging")]
    assert first["versions"][1][3] == {"validated": "yes"}
    assert first["aliases"] == [("challenger", 3)]
    production_event = Event.objects.get(type="version.stage_changed", version=2, payload__to="production")
    assert production_event.payload["kind"] == "imported"
    assert "--keep-production" in production_event.payload["reason"]
    summary = Event.objects.get(type="registry.imported")
    assert summary.payload["keep_production"] is True and summary.payload["production_kept"] == [f"{name} v2"]
    assert not PromotionRequest.objects.exists()
    v3 = ModelVersion.objects.get(model__name=name, version=3)
    assert v3.input_schema and v3.mlflow_model_id  # read from the tracking server like any registration


def test_import_api_is_for_admins_and_reports_what_it_did(tracking, source_registry, api, admin, contributor):
    body = {"registry_uri": tracking, "models": [source_registry]}
    r = api(contributor).post("/api/v1/import/mlflow/", body, format="json")
    assert r.status_code == 403
    assert not RegisteredModel.objects.exists()

    r = api(admin).post("/api/v1/import/mlflow/", body, format="json")

    assert r.status_code == 200, r.json()
    assert r.json()["models_created"] == [source_registry]
    assert len(r.json()["versions_created"]) == 3
    again = api(admin).post("/api/v1/import/mlflow/", body, format="json")
    assert again.json()["changes"] == 0
    assert RegisteredModel.objects.count() == 1


def test_over_the_api_a_production_version_lands_in_staging_with_a_request(tracking, source_registry, api, admin, approver):
    """Issue 11, item 2: nothing reaches Production by import without an approval."""
    name = source_registry
    body = {"registry_uri": tracking, "models": [name]}

    r = api(admin).post("/api/v1/import/mlflow/", body, format="json")

    assert r.status_code == 200, r.json()
    assert not ModelVersion.objects.filter(model__name=name, stage="production").exists()
    v2 = ModelVersion.objects.get(model__name=name, version=2)
    assert v2.stage == "staging"
    request = PromotionRequest.objects.get(version=v2)
    assert request.status == "pending" and request.requested_by == admin
    assert r.json()["promotion_requests"] == [f"{name} v2: #{request.pk}"]
    assert api(admin).post("/api/v1/import/mlflow/", body, format="json").json()["changes"] == 0  # not filed twice
    assert PromotionRequest.objects.count() == 1

    refused = api(admin).post("/api/v1/promotions/{}/approve/".format(request.pk), {"override_reason": "x"}, format="json")
    assert refused.status_code == 403  # the importer filed it: someone else approves


def test_keeping_production_is_not_an_api_option(tracking, source_registry, api, admin):
    body = {"registry_uri": tracking, "models": [source_registry], "keep_production": True}

    r = api(admin).post("/api/v1/import/mlflow/", body, format="json")

    assert r.status_code in (400, 422) and "keep_production" in r.json()["error"]["details"]
    assert not RegisteredModel.objects.exists()


def test_the_command_without_the_flag_stages_and_files_a_request_too(tracking, source_registry, admin):
    call_command("import_mlflow_registry", "--from", tracking, "--models", source_registry, "--as", admin.username,
                 stdout=io.StringIO())

    v2 = ModelVersion.objects.get(model__name=source_registry, version=2)
    assert v2.stage == "staging" and PromotionRequest.objects.get(version=v2).status == "pending"
