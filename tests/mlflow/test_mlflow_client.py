"""The MLflow-compatible registry API, driven by the real MLflow client against the
control plane's live server, with a real `mlflow server` as the tracking server. Every
test checks what the client saw and what the database holds."""

import pytest
import requests

from registry.models import ModelAlias, ModelVersion, RegisteredModel

from .helpers import NAME, error_of, events_after, last_event_id, source_of

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # Stages are deprecated in MLflow 3 but still served, and they are what the gate guards.
    pytest.mark.filterwarnings("ignore:.*is deprecated since 2.9.0:FutureWarning"),
]


# --- Registered models ------------------------------------------------------------------


def test_registered_model_create_get_update_rename_tags_delete(registry, contributor, admin):
    client = registry.as_user(contributor)
    mark = last_event_id()

    created = client.create_registered_model(NAME, tags={"team": "growth"}, description="Predicts churn.")
    assert created.name == NAME and created.description == "Predicts churn." and created.tags == {"team": "growth"}
    assert created.creation_timestamp > 0
    row = RegisteredModel.objects.get(name=NAME)
    assert row.description == "Predicts churn." and row.tags == {"team": "growth"} and row.created_by == contributor

    err = error_of(client.create_registered_model, NAME)
    assert err.error_code == "RESOURCE_ALREADY_EXISTS"
    assert RegisteredModel.objects.filter(name=NAME).count() == 1

    fetched = client.get_registered_model(NAME)
    assert (fetched.name, fetched.description, fetched.tags) == (NAME, "Predicts churn.", {"team": "growth"})
    assert fetched.latest_versions == [] and fetched.aliases == {}

    updated = client.update_registered_model(NAME, description="Predicts churn, monthly.")
    assert updated.description == "Predicts churn, monthly."
    assert RegisteredModel.objects.get(name=NAME).description == "Predicts churn, monthly."

    client.set_registered_model_tag(NAME, "tier", "gold")
    client.set_registered_model_tag(NAME, "team", "retention")
    assert client.get_registered_model(NAME).tags == {"team": "retention", "tier": "gold"}
    client.delete_registered_model_tag(NAME, "tier")
    client.delete_registered_model_tag(NAME, "never-set")  # like MLflow: no error
    assert client.get_registered_model(NAME).tags == {"team": "retention"}
    assert RegisteredModel.objects.get(name=NAME).tags == {"team": "retention"}

    client.rename_registered_model(NAME, "churn-v2")
    assert client.get_registered_model("churn-v2").description == "Predicts churn, monthly."
    assert not RegisteredModel.objects.filter(name=NAME).exists()
    assert RegisteredModel.objects.filter(name="churn-v2").exists()
    assert error_of(client.get_registered_model, NAME).error_code == "RESOURCE_DOES_NOT_EXIST"

    # Deleting a model is an admin's capability, as in the native API.
    err = error_of(client.delete_registered_model, "churn-v2")
    assert err.error_code == "PERMISSION_DENIED" and "cannot delete models" in err.message
    assert RegisteredModel.objects.filter(name="churn-v2").exists()
    registry.as_user(admin).delete_registered_model("churn-v2")
    assert not RegisteredModel.objects.filter(name="churn-v2").exists()

    assert [e[0] for e in events_after(mark)] == [
        "model.created",
        "model.updated",  # description
        "model.updated",  # tag tier
        "model.updated",  # tag team
        "model.updated",  # tag tier deleted
        "model.renamed",
        "model.deleted",
    ]
    assert events_after(mark)[0][3] == contributor.username and events_after(mark)[-1][3] == admin.username


def test_search_registered_models_filters_order_and_paging(registry, contributor):
    client = registry.as_user(contributor)
    for name, team in [
        ("churn-eu", "growth"),
        ("churn-us", "growth"),
        ("Churn-apac", "retention"),
        ("fraud-eu", "risk"),
        ("ltv", "growth"),
    ]:
        client.create_registered_model(name, tags={"team": team, "data set": f"{name} data"})
    assert RegisteredModel.objects.count() == 5

    def names(**kwargs):
        return [m.name for m in client.search_registered_models(**kwargs)]

    assert names() == ["Churn-apac", "churn-eu", "churn-us", "fraud-eu", "ltv"]
    assert names(filter_string="name = 'ltv'") == ["ltv"]
    assert names(filter_string="name LIKE 'churn%'") == ["churn-eu", "churn-us"]
    assert names(filter_string="name ILIKE 'churn%'") == ["Churn-apac", "churn-eu", "churn-us"]
    assert names(filter_string="name != 'ltv' AND name LIKE '%-eu'") == ["churn-eu", "fraud-eu"]
    assert names(filter_string="tags.team = 'growth'") == ["churn-eu", "churn-us", "ltv"]
    assert names(filter_string="tags.team = 'growth' AND name ILIKE '%eu%'") == ["churn-eu"]
    assert names(filter_string="tags.`data set` LIKE 'fraud%'") == ["fraud-eu"]
    assert names(filter_string="tags.missing = 'x'") == []
    assert names(order_by=["name DESC"]) == ["ltv", "fraud-eu", "churn-us", "churn-eu", "Churn-apac"]

    # Paging: max_results=2, following next_page_token to the end.
    seen, token, pages = [], None, 0
    while True:
        page = client.search_registered_models(max_results=2, page_token=token)
        seen += [m.name for m in page]
        pages += 1
        token = page.token
        if not token:
            break
    assert pages == 3 and seen == ["Churn-apac", "churn-eu", "churn-us", "fraud-eu", "ltv"]

    for bad, words in [
        ("name = 'a' OR name = 'b'", "OR is not supported"),
        ("owner = 'x'", "Invalid attribute key 'owner'"),
        ("name = unquoted", "must be quoted"),
    ]:
        err = error_of(client.search_registered_models, filter_string=bad)
        assert err.error_code == "INVALID_PARAMETER_VALUE" and words in err.message
    err = error_of(client.search_registered_models, order_by=["owner"])
    assert err.error_code == "INVALID_PARAMETER_VALUE" and "owner" in err.message
    err = error_of(client.search_registered_models, page_token="not-a-token")
    assert err.error_code == "INVALID_PARAMETER_VALUE" and "page token" in err.message


# --- Model versions ---------------------------------------------------------------------


def test_model_versions_create_get_search_update_tags_and_download_uri(registry, contributor, logged_runs):
    client = registry.as_user(contributor)
    (run_a, model_a), (run_b, _) = logged_runs
    client.create_registered_model(NAME)
    mark = last_event_id()

    v1 = client.create_model_version(
        NAME, source_of(logged_runs[0]), run_id=run_a, tags={"origin": "ci"}, description="First."
    )
    v2 = client.create_model_version(NAME, source_of(logged_runs[1]), run_id=run_b)
    assert (v1.version, v2.version) == ("1", "2")
    assert v1.current_stage == "None" and v1.status == "READY" and v1.run_id == run_a
    assert v1.source == source_of(logged_runs[0]) and v1.tags == {"origin": "ci"} and v1.description == "First."

    row = ModelVersion.objects.get(model__name=NAME, version=1)
    assert row.source == source_of(logged_runs[0]) and row.run_id == run_a and row.stage == "none"
    assert row.tags["origin"] == "ci" and row.created_by == contributor
    # Read from the tracking server: the logged model, its storage and its signature.
    assert row.mlflow_model_id == model_a and row.storage_location
    assert [c["name"] for c in row.input_schema] == ["tenure_months", "monthly_spend"]
    assert row.signature_found is True

    got = client.get_model_version(NAME, "1")
    assert (got.name, got.version, got.run_id, got.description) == (NAME, "1", run_a, "First.")
    assert error_of(client.get_model_version, NAME, "9").error_code == "RESOURCE_DOES_NOT_EXIST"

    assert {v.version for v in client.search_model_versions(f"name = '{NAME}'")} == {"1", "2"}
    assert [v.version for v in client.search_model_versions(f"run_id = '{run_b}'")] == ["2"]
    assert [v.version for v in client.search_model_versions(f"name = '{NAME}' AND tags.origin = 'ci'")] == ["1"]
    assert [v.version for v in client.search_model_versions(order_by=["version_number ASC"])] == ["1", "2"]
    page = client.search_model_versions(max_results=1, order_by=["version_number DESC"])
    assert [v.version for v in page] == ["2"] and page.token
    page = client.search_model_versions(max_results=1, order_by=["version_number DESC"], page_token=page.token)
    assert [v.version for v in page] == ["1"] and not page.token
    err = error_of(client.search_model_versions, "run_id = 'x' OR name = 'y'")
    assert err.error_code == "INVALID_PARAMETER_VALUE"

    updated = client.update_model_version(NAME, "2", description="Second, smaller C.")
    assert updated.description == "Second, smaller C."
    assert ModelVersion.objects.get(model__name=NAME, version=2).description == "Second, smaller C."

    client.set_model_version_tag(NAME, "2", "validated", "yes")
    assert client.get_model_version(NAME, "2").tags.get("validated") == "yes"
    client.delete_model_version_tag(NAME, "2", "validated")
    assert "validated" not in client.get_model_version(NAME, "2").tags
    assert "validated" not in ModelVersion.objects.get(model__name=NAME, version=2).tags

    uri = client.get_model_version_download_uri(NAME, "1")
    assert uri == row.storage_location

    client.delete_model_version(NAME, "2")
    assert not ModelVersion.objects.filter(model__name=NAME, version=2).exists()
    assert error_of(client.get_model_version, NAME, "2").error_code == "RESOURCE_DOES_NOT_EXIST"

    assert [(e[0], e[2]) for e in events_after(mark)] == [
        ("version.registered", 1),
        ("version.registered", 2),
        ("version.updated", 2),  # description
        ("version.updated", 2),  # tag set
        ("version.updated", 2),  # tag deleted
        ("version.deleted", 2),
    ]


def test_a_source_the_tracking_server_does_not_have_is_refused(registry, contributor):
    client = registry.as_user(contributor)
    client.create_registered_model(NAME)
    err = error_of(client.create_model_version, NAME, "runs:/0123456789abcdef0123456789abcdef/model")
    assert err.error_code == "INVALID_PARAMETER_VALUE" and "0123456789abcdef" in err.message
    assert not ModelVersion.objects.exists()


def test_aliases_set_get_delete_show_in_the_native_api(registry, contributor, logged_runs):
    client = registry.as_user(contributor)
    client.create_registered_model(NAME)
    for run in logged_runs:
        client.create_model_version(NAME, source_of(run), run_id=run[0])
    mark = last_event_id()

    client.set_registered_model_alias(NAME, "challenger", "2")
    client.set_registered_model_alias(NAME, "baseline", "1")
    assert client.get_model_version_by_alias(NAME, "challenger").version == "2"
    assert client.get_registered_model(NAME).aliases == {"baseline": "1", "challenger": "2"}
    assert client.get_model_version(NAME, "2").aliases == ["challenger"]
    assert dict(ModelAlias.objects.values_list("alias", "version__version")) == {"challenger": 2, "baseline": 1}

    native = requests.get(
        f"{registry.url}/api/v1/models/{NAME}/", headers={"Authorization": f"Bearer {registry.token(contributor)}"}
    )
    assert native.status_code == 200 and native.json()["aliases"] == {"baseline": 1, "challenger": 2}

    client.set_registered_model_alias(NAME, "challenger", "1")  # moves
    assert client.get_model_version_by_alias(NAME, "challenger").version == "1"
    client.delete_registered_model_alias(NAME, "baseline")
    client.delete_registered_model_alias(NAME, "never-set")  # like MLflow: no error
    err = error_of(client.get_model_version_by_alias, NAME, "baseline")
    assert err.error_code == "INVALID_PARAMETER_VALUE" and "baseline" in err.message
    assert dict(ModelAlias.objects.values_list("alias", "version__version")) == {"challenger": 1}

    err = error_of(client.set_registered_model_alias, NAME, "latest", "1")
    assert err.error_code == "INVALID_PARAMETER_VALUE"
    assert error_of(client.set_registered_model_alias, NAME, "x", "9").error_code == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_model_version_by_alias(NAME, "latest").version == "2"

    assert [(e[0], e[2]) for e in events_after(mark)] == [
        ("alias.set", 2),
        ("alias.set", 1),
        ("alias.set", 1),
        ("alias.deleted", 1),
    ]
