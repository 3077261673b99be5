"""The MLflow-compatible registry API, continued: stages and the approval gate, the
issue's snippet, MLflow's wire format, and routing/auth edge cases. Same set-up as
test_mlflow_client.py: the real MLflow client, the live server, a real `mlflow server`."""

import pytest
import requests
from django.conf import settings
from mlflow.exceptions import MlflowException

from registry.model_saving import own_model_types
from control_plane.models import Event
from control_plane.tokens import token_create
from registry import services
from registry.models import ModelAlias, ModelVersion, PromotionRequest, RegisteredModel
from tests.conftest import make_user

from .helpers import NAME, error_of, events_after, last_event_id, source_of

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # Stages are deprecated in MLflow 3 but still served, and they are what the gate guards.
    pytest.mark.filterwarnings("ignore:.*is deprecated since 2.9.0:FutureWarning"),
]


# --- Stages and governance -----------------------------------------------------------------


def test_transition_to_staging_archives_the_other_staging_version(registry, contributor, logged_runs):
    client = registry.as_user(contributor)
    client.create_registered_model(NAME)
    for run in [*logged_runs, logged_runs[0]]:
        client.create_model_version(NAME, source_of(run), run_id=run[0])
    mark = last_event_id()

    assert client.transition_model_version_stage(NAME, "1", "Staging").current_stage == "Staging"
    assert client.transition_model_version_stage(NAME, "2", "staging").current_stage == "Staging"
    stages = dict(ModelVersion.objects.values_list("version", "stage"))
    assert stages == {1: "staging", 2: "staging", 3: "none"}

    moved = client.transition_model_version_stage(NAME, "3", "Staging", archive_existing_versions=True)
    assert moved.current_stage == "Staging"
    assert dict(ModelVersion.objects.values_list("version", "stage")) == {1: "archived", 2: "archived", 3: "staging"}
    assert client.get_model_version(NAME, "1").current_stage == "Archived"

    latest = client.get_latest_versions(NAME)
    assert {(v.version, v.current_stage) for v in latest} == {("2", "Archived"), ("3", "Staging")}
    assert [v.version for v in client.get_latest_versions(NAME, stages=["Staging"])] == ["3"]
    assert client.get_latest_versions(NAME, stages=["Production"]) == []
    assert {(v.version, v.current_stage) for v in client.get_registered_model(NAME).latest_versions} == {
        ("2", "Archived"),
        ("3", "Staging"),
    }

    # Moving to the stage a version is in answers it unchanged, like MLflow.
    assert client.transition_model_version_stage(NAME, "3", "Staging").current_stage == "Staging"
    err = error_of(client.transition_model_version_stage, NAME, "1", "None")  # archived -> none: not a rule
    assert err.error_code == "INVALID_STATE" and "cannot move" in err.message
    err = error_of(client.transition_model_version_stage, NAME, "3", "Sideways")
    assert err.error_code == "INVALID_PARAMETER_VALUE" and "Sideways" in err.message
    err = error_of(client.transition_model_version_stage, NAME, "3", "Archived", archive_existing_versions=True)
    assert err.error_code == "INVALID_PARAMETER_VALUE"
    assert ModelVersion.objects.get(version=3).stage == "staging"

    changes = [(e[0], e[2]) for e in events_after(mark)]
    assert changes[:3] == [("version.stage_changed", 1), ("version.stage_changed", 2), ("version.stage_changed", 3)]
    assert sorted(changes[3:]) == [("version.stage_changed", 1), ("version.stage_changed", 2)]
    assert list(
        Event.objects.filter(id__gt=mark, version=1).order_by("id").values_list("payload__from", "payload__to")
    ) == [("none", "staging"), ("staging", "archived")]


def test_production_needs_an_approved_promotion_request(registry, contributor, approver, admin, logged_runs):
    client = registry.as_user(contributor)
    client.create_registered_model(NAME)
    client.create_model_version(NAME, source_of(logged_runs[0]), run_id=logged_runs[0][0])
    mark = last_event_id()

    err = error_of(client.transition_model_version_stage, NAME, "1", "Production")
    request = PromotionRequest.objects.get()
    assert err.error_code == "PERMISSION_DENIED"
    assert f"promotion request #{request.pk}" in err.message
    assert f"{settings.PUBLIC_BASE_URL.rstrip('/')}/promotions/{request.pk}/" in err.message
    assert "A second person must approve it" in err.message
    assert request.status == "pending" and request.requested_by == contributor and request.version.version == 1
    # The version was staged to file the request; it is not in Production.
    assert ModelVersion.objects.get(version=1).stage == "staging"
    assert client.get_model_version(NAME, "1").current_stage == "Staging"

    # Asking again, either way, reuses the pending request.
    err = error_of(client.transition_model_version_stage, NAME, "1", "production", archive_existing_versions=True)
    assert f"promotion request #{request.pk}" in err.message
    err = error_of(client.set_registered_model_alias, NAME, "champion", "1")
    assert err.error_code == "PERMISSION_DENIED" and f"promotion request #{request.pk}" in err.message
    assert PromotionRequest.objects.count() == 1
    assert not ModelAlias.objects.filter(alias="champion").exists()

    # Someone else approves it (the native path), and both APIs show Production.
    services.promotion_approve(actor=approver, request_id=request.pk, comment="Looks good.")
    got = registry.as_user(contributor).get_model_version(NAME, "1")
    assert got.current_stage == "Production" and "champion" in got.aliases
    assert client.get_model_version_by_alias(NAME, "champion").version == "1"
    assert client.get_registered_model(NAME).aliases == {"champion": "1"}
    assert [v.version for v in client.get_latest_versions(NAME, stages=["Production"])] == ["1"]
    assert ModelVersion.objects.get(version=1).stage == "production"
    assert PromotionRequest.objects.get().status == "approved"
    native = requests.get(
        f"{registry.url}/api/v1/models/{NAME}/", headers={"Authorization": f"Bearer {registry.token(contributor)}"}
    ).json()
    assert native["production_version"] == 1 and native["aliases"] == {"champion": 1}

    # Already Production: MLflow's call answers the version; the alias already names it.
    assert client.transition_model_version_stage(NAME, "1", "Production").current_stage == "Production"
    client.set_registered_model_alias(NAME, "champion", "1")

    # What is in Production cannot be deleted or moved by hand, nor the alias removed.
    err = error_of(client.delete_model_version, NAME, "1")
    assert err.error_code == "INVALID_STATE" and "Production" in err.message
    err = error_of(registry.as_user(admin).delete_registered_model, NAME)
    assert err.error_code == "INVALID_STATE" and "Production" in err.message
    client = registry.as_user(contributor)
    err = error_of(client.transition_model_version_stage, NAME, "1", "Archived")
    assert err.error_code == "INVALID_STATE" and "Production" in err.message
    err = error_of(client.delete_registered_model_alias, NAME, "champion")
    assert err.error_code == "PERMISSION_DENIED"
    assert ModelVersion.objects.get(version=1).stage == "production"
    assert RegisteredModel.objects.filter(name=NAME).exists()

    assert [e[0] for e in events_after(mark)] == [
        "version.stage_changed",  # none -> staging, to file the request
        "promotion.requested",
        "promotion.approval_recorded",
        "promotion.approved",
        "version.stage_changed",  # staging -> production
    ]
    requested = Event.objects.get(id__gt=mark, type="promotion.requested")
    assert requested.actor == contributor and requested.payload["promotion_request"] == request.pk


def test_setting_the_production_alias_files_a_request(registry, contributor, logged_runs):
    client = registry.as_user(contributor)
    client.create_registered_model(NAME)
    client.create_model_version(NAME, source_of(logged_runs[0]), run_id=logged_runs[0][0])
    err = error_of(client.set_registered_model_alias, NAME, "champion", "1")
    request = PromotionRequest.objects.get()
    assert err.error_code == "PERMISSION_DENIED" and f"promotion request #{request.pk}" in err.message
    assert "champion" in err.message and request.status == "pending"
    err = error_of(client.get_model_version_by_alias, NAME, "champion")
    assert err.error_code == "INVALID_PARAMETER_VALUE"  # no Production version yet
    assert ModelVersion.objects.get().stage == "staging"


def test_tokens_and_roles_decide_who_may_write(registry, contributor, viewer, approver):
    contributor_client = registry.as_user(contributor)
    contributor_client.create_registered_model(NAME)
    mark = last_event_id()

    read_only = registry.as_user(contributor, read_only=True)
    err = error_of(read_only.create_registered_model, "other")
    assert err.error_code == "PERMISSION_DENIED" and "read-only" in err.message
    err = error_of(read_only.set_registered_model_tag, NAME, "k", "v")
    assert err.error_code == "PERMISSION_DENIED"
    assert read_only.get_registered_model(NAME).name == NAME  # reads work
    assert read_only.get_latest_versions(NAME) == []  # a POST, but a read
    assert [m.name for m in read_only.search_registered_models()] == [NAME]

    viewer_client = registry.as_user(viewer)
    err = error_of(viewer_client.create_registered_model, "other")
    assert err.error_code == "PERMISSION_DENIED" and "register" in err.message
    approver_client = registry.as_user(approver)
    assert error_of(approver_client.update_registered_model, NAME, "x").error_code == "PERMISSION_DENIED"

    serve_only = token_create(actor=contributor, owner=contributor, name="serve", serve_only=True).secret
    registry._monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", serve_only)
    err = error_of(read_only.get_registered_model, NAME)
    assert err.error_code == "PERMISSION_DENIED" and "serving" in err.message

    anonymous = registry.anonymous()
    assert error_of(anonymous.get_registered_model, NAME).error_code == "UNAUTHENTICATED"
    registry._monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "cpt_nothing_here")
    assert error_of(anonymous.get_registered_model, NAME).error_code == "UNAUTHENTICATED"

    assert list(RegisteredModel.objects.values_list("name", flat=True)) == [NAME]
    assert RegisteredModel.objects.get().tags == {} and RegisteredModel.objects.get().description == ""
    assert events_after(mark) == []  # nothing refused left a trace in the journal


# --- The issue's snippet, unchanged but for the URIs (and MLflow 3.17's skops trust list) -----


def test_ordinary_mlflow_code_registers_here_and_meets_the_gate(registry, contributor, approver):
    import mlflow
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.ensemble import RandomForestClassifier

    registry.as_user(contributor)
    X = pd.DataFrame({"tenure_months": np.linspace(1, 60, 80), "monthly_spend": np.linspace(120, 5, 80)})
    y = (X["tenure_months"] < 12).astype(int)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    sig = infer_signature(X, model.predict(X))

    mlflow.set_tracking_uri(registry.tracking_url)  # their MLflow tracking server
    mlflow.set_registry_uri(registry.url)  # the control plane
    with mlflow.start_run():
        mlflow.log_params({"learning_rate": 0.01, "n_estimators": 100})
        mlflow.log_metrics({"auc": 0.94, "f1": 0.87})
        mlflow.sklearn.log_model(
            model, name="model", signature=sig, registered_model_name=NAME,
            # MLflow 3.17 stores scikit-learn models with skops, which needs tree types named as trusted.
            skops_trusted_types=own_model_types(model),
        )
    client = mlflow.MlflowClient()
    with pytest.raises(MlflowException) as caught:
        client.transition_model_version_stage(name=NAME, version="1", stage="Production")

    request = PromotionRequest.objects.get()
    assert caught.value.error_code == "PERMISSION_DENIED" and f"promotion request #{request.pk}" in caught.value.message
    mv = ModelVersion.objects.get(model__name=NAME)
    assert mv.version == 1 and mv.stage == "staging" and mv.created_by == contributor
    assert mv.metrics["auc"] == pytest.approx(0.94) and mv.params["n_estimators"] == "100"
    assert [c["name"] for c in mv.input_schema] == ["tenure_months", "monthly_spend"]
    assert request.gate["passed"], request.gate

    loaded = mlflow.pyfunc.load_model(f"models:/{NAME}/1")
    assert list(loaded.predict(X.head(3))) == list(model.predict(X.head(3)))

    services.promotion_approve(actor=approver, request_id=request.pk, comment="ok")
    assert client.get_model_version(NAME, "1").current_stage == "Production"
    champion = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    assert list(champion.predict(X.tail(3))) == list(model.predict(X.tail(3)))
    assert [e[0] for e in events_after(0) if e[1] == NAME][:2] == ["model.created", "version.registered"]


# --- The wire format: the same calls against the real MLflow server and against us ------------


def _keys_and_types(value):
    """The shape of a JSON value: keys with their value types, recursively."""
    if isinstance(value, dict):
        return {k: _keys_and_types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_keys_and_types(value[0])] if value else []
    return type(value).__name__


def test_answers_have_the_shape_of_mlflows_own(registry, contributor, mlflow_server):
    ours_headers = {"Authorization": f"Bearer {registry.token(contributor)}"}
    model = "shape-check"

    def call(base, headers, method, path, body=None, params=None):
        r = requests.request(method, f"{base}/api/2.0/mlflow/{path}", json=body, params=params, headers=headers)
        return r.status_code, r.json()

    answers = {}
    for side, base, headers in (("mlflow", mlflow_server, {}), ("ours", registry.url, ours_headers)):
        steps = [
            ("POST", "registered-models/create", {"name": model, "tags": [{"key": "team", "value": "growth"}]}, None),
            ("POST", "model-versions/create", {"name": model, "source": "s3://bucket/model", "run_id": ""}, None),
            ("POST", "model-versions/create", {"name": model, "source": "s3://bucket/model2", "description": "d",
                                               "tags": [{"key": "k", "value": "v"}]}, None),
            ("POST", "registered-models/alias", {"name": model, "alias": "blue", "version": "1"}, None),
            ("POST", "model-versions/transition-stage", {"name": model, "version": "2", "stage": "Staging",
                                                         "archive_existing_versions": False}, None),
            ("PATCH", "registered-models/update", {"name": model, "description": "about"}, None),
            ("GET", "registered-models/get", None, {"name": model}),
            ("GET", "model-versions/get", None, {"name": model, "version": "1"}),
            ("GET", "registered-models/alias", None, {"name": model, "alias": "blue"}),
            ("GET", "registered-models/search", None, {"filter": f"name = '{model}'"}),
            ("GET", "model-versions/search", None, {"filter": f"name = '{model}'", "max_results": "1"}),
            ("GET", "registered-models/get-latest-versions", None, {"name": model, "stages": ["Staging"]}),
            ("GET", "model-versions/get-download-uri", None, {"name": model, "version": "1"}),
            ("POST", "registered-models/set-tag", {"name": model, "key": "a", "value": "b"}, None),
            ("DELETE", "registered-models/delete-tag", {"name": model, "key": "a"}, None),
            ("GET", "registered-models/get", None, {"name": "no-such-model"}),
            ("POST", "registered-models/create", {"name": model}, None),
            ("GET", "model-versions/get", None, {"name": model, "version": "x"}),
            ("GET", "registered-models/search", None, {"filter": "owner = 'x'"}),
            ("POST", "registered-models/create", {}, None),
            ("DELETE", "model-versions/delete", {"name": model, "version": "1"}, None),
        ]
        answers[side] = [call(base, headers, *step) for step in steps]
    # Leave the tracking server's own registry as it was (other tests import from it).
    call(mlflow_server, {}, "DELETE", "registered-models/delete", {"name": model})

    for (status_m, body_m), (status_o, body_o) in zip(answers["mlflow"], answers["ours"], strict=True):
        assert status_o == status_m, (body_m, body_o)
        if "error_code" in body_m:
            assert body_o.get("error_code") == body_m["error_code"], (body_m, body_o)
            assert set(body_o) == {"error_code", "message"}
            continue
        shape_m, shape_o = _keys_and_types(body_m), _keys_and_types(body_o)
        # Ours may add what MLflow leaves out: user_id, model_id, and aliases on versions
        # in search results and latest_versions (MLflow fills those only on get).
        _assert_contains(shape_o, shape_m)
    assert answers["ours"][6][1]["registered_model"]["latest_versions"][1]["current_stage"] == "Staging"
    assert answers["ours"][8][1]["model_version"]["aliases"] == ["blue"]
    # The same data went to our database.
    row = RegisteredModel.objects.get(name=model)
    assert row.description == "about" and row.tags == {"team": "growth"}
    assert dict(ModelVersion.objects.values_list("version", "stage")) == {2: "staging"}


def _assert_contains(ours, theirs, path="$"):
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), path
        for key, value in theirs.items():
            assert key in ours, f"{path}.{key} missing: {ours}"
            _assert_contains(ours[key], value, f"{path}.{key}")
        extra = set(ours) - set(theirs)
        assert extra <= {"user_id", "model_id", "aliases"}, f"{path}: unexpected {extra}"
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and bool(ours) == bool(theirs), path
        if theirs:
            _assert_contains(ours[0], theirs[0], f"{path}[0]")
    else:
        assert ours == theirs, f"{path}: {ours} != {theirs}"


# --- Routing, session auth, odd requests -------------------------------------------------------


def test_ajax_prefix_unknown_endpoints_and_methods(registry, contributor):
    headers = {"Authorization": f"Bearer {registry.token(contributor)}"}
    r = requests.post(
        f"{registry.url}/ajax-api/2.0/mlflow/registered-models/create", json={"name": NAME}, headers=headers
    )
    assert r.status_code == 200 and r.json()["registered_model"]["name"] == NAME
    assert RegisteredModel.objects.filter(name=NAME).exists()

    r = requests.get(f"{registry.url}/api/2.0/mlflow/runs/get", params={"run_id": "x"}, headers=headers)
    assert r.status_code == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert "tracking server" in r.json()["message"]
    r = requests.get(f"{registry.url}/api/2.0/mlflow/registered-models/create", headers=headers)
    assert r.status_code == 405 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    r = requests.post(
        f"{registry.url}/api/2.0/mlflow/registered-models/create",
        data="{not json",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    # A DELETE whose parameters come in the query string works too.
    r = requests.delete(
        f"{registry.url}/api/2.0/mlflow/registered-models/delete-tag",
        params={"name": NAME, "key": "x"},
        headers=headers,
    )
    assert r.status_code == 200 and r.json() == {}
    assert RegisteredModel.objects.count() == 1


def test_session_requests_need_csrf_for_writes(db, contributor):
    from django.test import Client

    from tests.conftest import PASSWORD

    browser = Client(enforce_csrf_checks=True)
    assert browser.login(username=contributor.username, password=PASSWORD)
    r = browser.post("/api/2.0/mlflow/registered-models/create", {"name": NAME}, content_type="application/json")
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED" and "CSRF" in r.json()["message"]
    assert not RegisteredModel.objects.exists()

    token = "a" * 16 + "B" * 16  # a well-formed CSRF secret, as the cookie and the header
    browser.cookies["csrftoken"] = token
    r = browser.post(
        "/api/2.0/mlflow/registered-models/create",
        {"name": NAME},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert r.status_code == 200, r.json()
    assert RegisteredModel.objects.get().created_by == contributor
    r = browser.get("/api/2.0/mlflow/registered-models/get", {"name": NAME})
    assert r.status_code == 200 and r.json()["registered_model"]["name"] == NAME


def test_an_approver_reads_but_files_no_promotion_requests(registry, logged_runs):
    """Roles hold on the MLflow path: an approver decides requests, it does not file them."""
    contributor = make_user("cora-contrib", "contributor")
    approver = make_user("abe-approver", "approver")
    client = registry.as_user(contributor)
    client.create_registered_model(NAME)
    client.create_model_version(NAME, source_of(logged_runs[1]), run_id=logged_runs[1][0])
    client.transition_model_version_stage(NAME, "1", "Staging")
    err = error_of(registry.as_user(approver).transition_model_version_stage, NAME, "1", "Production")
    assert err.error_code == "PERMISSION_DENIED" and "cannot request a promotion" in err.message
    assert not PromotionRequest.objects.exists()
    assert registry.as_user(approver).get_model_version(NAME, "1").current_stage == "Staging"
