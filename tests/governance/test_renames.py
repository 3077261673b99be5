"""Issue 11, item 4: names cannot be swapped to put a version in front of users. A
model with a Production version or a live deployment keeps its name; a name that had
Production history is not taken by another model, except by an admin, on record."""

import pytest

from control_plane.errors import Conflict
from control_plane.models import Event
from registry import services
from registry.models import RegisteredModel
from serving import services as deployments
from tests.conftest import promote, staged_version

MLFLOW = "/api/2.0/mlflow"


def rename(client, name, new_name):
    return client.post(f"{MLFLOW}/registered-models/rename", {"name": name, "new_name": new_name}, format="json")


def test_the_swap_attack_is_refused(api, contributor, approver):
    """Rename A away, rename B to A: 'A' would name B's Production version unapproved."""
    services.model_create(actor=contributor, name="model-a")
    services.model_create(actor=contributor, name="model-b")
    promote(contributor, approver, "model-a")
    promote(contributor, approver, "model-b")
    client = api(contributor)

    r = rename(client, "model-a", "model-a-old")

    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_STATE", r.json()  # MLflow's word for 409
    assert "Production" in r.json()["message"]
    assert set(RegisteredModel.objects.values_list("name", flat=True)) == {"model-a", "model-b"}


def test_a_model_with_a_live_deployment_keeps_its_name(contributor, registered_model):
    """A deployment serving something else than Production cannot exist without one, so
    the deployment rule is checked on its own: a shadow of a Staging version."""
    staged_version(contributor)
    deployments_model = RegisteredModel.objects.get(name="churn-predictor")
    from serving.models import Deployment

    Deployment.objects.create(model=deployments_model, strategy="shadow", champion=None)

    with pytest.raises(Conflict) as refused:
        services.model_rename(actor=contributor, name="churn-predictor", new_name="elsewhere")

    assert refused.value.code == "model_served"


def _production_history_under(name, contributor, approver, admin):
    """A model that had a Production version under `name`, now renamed away by an admin
    importing the stage back out of Production (the only way to leave it)."""
    services.model_create(actor=contributor, name=name)
    version = promote(contributor, approver, name)
    services.version_set_stage_imported(actor=admin, model_name=name, version=version.version, stage="archived", source="x")
    services.model_rename(actor=contributor, name=name, new_name=f"{name}-retired")


def test_a_name_with_production_history_is_not_taken_by_another_model(api, contributor, approver, admin):
    _production_history_under("fraud", contributor, approver, admin)
    services.model_create(actor=contributor, name="fraud-candidate")
    client = api(contributor)

    renamed = rename(client, "fraud-candidate", "fraud")
    created = client.post("/api/v1/models/", {"name": "fraud"}, format="json")

    assert renamed.status_code == 400 and renamed.json()["error_code"] == "INVALID_STATE", renamed.json()
    assert created.status_code == 409, created.json()
    assert created.json()["error"]["code"] == "name_had_production"
    assert not RegisteredModel.objects.filter(name="fraud").exists()


def test_an_admin_may_reuse_such_a_name_and_it_is_journaled(api, contributor, approver, admin):
    _production_history_under("fraud", contributor, approver, admin)
    services.model_create(actor=contributor, name="fraud-candidate")

    r = rename(api(admin), "fraud-candidate", "fraud")

    assert r.status_code == 200, r.json()
    event = Event.objects.get(type="model.name_reused")
    assert event.actor_name == admin.username and event.model_name == "fraud"
    assert event.payload["production_versions"] == [1]


def test_ordinary_renames_still_work(api, contributor, registered_model):
    staged_version(contributor)

    r = rename(api(contributor), "churn-predictor", "churn-v2")

    assert r.status_code == 200
    assert RegisteredModel.objects.filter(name="churn-v2").exists()
    assert deployments  # serving's services are imported for the deployment rule
