"""Issue 11, item 7: the production alias is reserved whatever its case."""

import pytest

from control_plane.errors import Conflict
from registry import services
from registry.models import ModelAlias
from tests.conftest import staged_version

MLFLOW = "/api/2.0/mlflow"


@pytest.mark.parametrize("alias", ["Champion", "CHAMPION", "cHaMpIoN"])
def test_the_service_refuses_the_production_alias_in_any_case(registered_model, contributor, alias):
    version = staged_version(contributor)

    with pytest.raises(Conflict) as refused:
        services.alias_set(actor=contributor, model_name="churn-predictor", alias=alias, version=version.version)

    assert refused.value.code == "promotion_required"
    assert not ModelAlias.objects.exists()


@pytest.mark.parametrize("alias", ["Champion", "CHAMPION"])
def test_the_mlflow_alias_endpoint_treats_it_as_the_production_alias(api, registered_model, contributor, alias):
    version = staged_version(contributor)

    r = api(contributor).post(
        f"{MLFLOW}/registered-models/alias",
        {"name": "churn-predictor", "alias": alias, "version": str(version.version)},
        format="json",
    )

    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED", r.json()
    assert "promotion request" in r.json()["message"]
    assert not ModelAlias.objects.exists()
    version.refresh_from_db()
    assert version.stage == "staging"


def test_deleting_it_in_another_case_is_refused_too(registered_model, contributor):
    with pytest.raises(Conflict):
        services.alias_delete(actor=contributor, model_name="churn-predictor", alias="Champion")
