"""POST/GET /api/v1/models/{name}/versions/{v}/reference/: reference data profiled once."""

import numpy as np
import pytest
from django_celery_beat.models import PeriodicTask

from control_plane.models import Event
from monitoring.models import MonitorPolicy, ReferenceProfile
from tests.conftest import register_version

from . import drift_support
from .drift_support import csv_bytes, customers, parquet_bytes, reference_url

pytestmark = pytest.mark.django_db
# Fixtures (from drift_support, shared by the drift test modules)
drift_settings = drift_support.drift_settings
saved_model = drift_support.saved_model
production = drift_support.production

CATEGORICAL_SCHEMA = [
    {"name": "tenure_months", "type": "double", "nullable": False},
    {"name": "plan", "type": "string", "nullable": False},
    {"name": "autopay", "type": "boolean", "nullable": True},
]


def test_csv_upload_is_profiled_with_the_models_own_scores(api, production, contributor, viewer):
    frame = customers(2000)
    upload = csv_bytes(frame)

    r = api(contributor).post(reference_url(), {"file": _file("ref.csv", upload)}, format="multipart")

    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["n_rows"] == 2000 and body["task"] == "classifier" and body["score_column"] == ""
    assert body["label_column"] == "label" and body["positive_label"] == "1" and body["calibrated"] is True
    assert [f["name"] for f in body["features"]] == ["tenure_months", "monthly_spend", "support_tickets"]
    assert body["metrics"]["accuracy"] > 0.8 and body["metrics"]["roc_auc"] > 0.85
    stored = ReferenceProfile.objects.get(version=production)
    assert stored.source == "upload:ref.csv" and stored.n_rows == 2000
    tenure = stored.profile["features"]["tenure_months"]
    assert tenure["kind"] == "numeric" and len(tenure["edges"]) == 9
    assert np.allclose(tenure["edges"], np.quantile(frame["tenure_months"], np.linspace(0.1, 0.9, 9)))
    assert sum(tenure["shares"]) == pytest.approx(1) and tenure["mean"] == pytest.approx(frame["tenure_months"].mean())
    assert stored.profile["score"]["kind"] == "numeric" and 0 <= stored.profile["score"]["min"] <= 1
    assert stored.profile["calibration"]["positive_rate"]
    assert api(viewer).get(reference_url()).json() == body
    # Monitoring starts with the reference: a daily policy and its beat schedule exist.
    policy = MonitorPolicy.objects.get(model=production.model)
    assert policy.enabled and policy.schedule == "0 3 * * *" and policy.periodic_task.enabled
    event = Event.objects.get(type="reference.uploaded")
    assert event.version == 1 and event.payload["n_rows"] == 2000


def test_parquet_body_with_named_label_and_score_columns(api, production, contributor):
    frame = customers(1000, seed=3).rename(columns={"label": "churned"})
    frame["p_churn"] = np.where(frame["churned"] == 1, 0.8, 0.2)

    r = api(contributor).post(
        reference_url() + "?label_column=churned&score_column=p_churn",
        data=parquet_bytes(frame),
        content_type="application/vnd.apache.parquet",
    )

    assert r.status_code == 201, r.json()
    stored = ReferenceProfile.objects.get(version=production)
    assert (stored.label_column, stored.score_column, stored.source) == ("churned", "p_churn", "upload:body.parquet")
    assert stored.profile["metrics"]["accuracy"] == pytest.approx(1.0)  # the score column, not the model
    assert stored.profile["score"]["min"] == pytest.approx(0.2) and stored.profile["score"]["max"] == pytest.approx(0.8)
    assert stored.profile["features"]["support_tickets"]["mean"] == pytest.approx(frame["support_tickets"].mean())


def test_categorical_features_from_a_raw_csv_with_scores(api, registered_model, contributor):
    register_version(contributor, schema=CATEGORICAL_SCHEMA)  # a source no one can load: scores come with the file
    text = "tenure_months,plan,autopay,score\n" + "".join(
        f"{i % 50},{['basic', 'pro', 'team'][i % 3]},{['true', 'false', ''][i % 4 % 3]},{(i % 10) / 10}\n"
        for i in range(600)
    )

    r = api(contributor).post(reference_url(), data=text.encode(), content_type="text/csv")

    assert r.status_code == 201, r.json()
    features = ReferenceProfile.objects.get().profile["features"]
    assert features["plan"]["kind"] == "categorical"
    assert features["plan"]["shares"]["basic"] == pytest.approx(1 / 3, abs=0.01)
    assert set(features["autopay"]["shares"]) - {"__other__"} == {"true", "false"}
    assert features["autopay"]["null_share"] == pytest.approx(150 / 600)
    summary = {f["name"]: f for f in r.json()["features"]}
    assert summary["plan"]["categories"]["pro"] == pytest.approx(1 / 3, abs=0.01)


def test_server_path_inside_the_roots_only(api, production, contributor, drift_settings, tmp_path):
    inside = drift_settings.REFERENCE_DATA_ROOTS[0] / "ref.csv"
    inside.write_bytes(csv_bytes(customers(500)))
    outside = tmp_path / "elsewhere.csv"
    outside.write_bytes(csv_bytes(customers(500)))
    client = api(contributor)

    refused = client.post(reference_url(), {"path": str(outside)}, format="json")
    sneaky = client.post(reference_url(), {"path": f"{inside.parent}/../elsewhere.csv"}, format="json")
    assert refused.status_code == sneaky.status_code == 422
    assert refused.json()["error"]["code"] == "path_not_allowed"
    assert not ReferenceProfile.objects.exists()

    r = client.post(reference_url(), {"path": str(inside)}, format="json")
    assert r.status_code == 201, r.json()
    assert ReferenceProfile.objects.get().source == f"path:{inside}"


def test_reference_named_by_a_tag_at_registration_is_profiled_by_a_worker(
    production, contributor, drift_settings, django_capture_on_commit_callbacks
):
    from control_plane.journal import events_dispatch

    named = drift_settings.REFERENCE_DATA_ROOTS[0] / "named.csv"
    named.write_bytes(csv_bytes(customers(800)))
    tagged = register_version(
        contributor, schema=_serving_schema(), source=production.source, tags={"monitoring.reference": str(named)}
    )
    broken = register_version(
        contributor, schema=_serving_schema(), source=production.source, tags={"monitoring.reference": "/etc/passwd"}
    )
    register_version(contributor, schema=_serving_schema(), source=production.source)  # no tag: nothing to do

    with django_capture_on_commit_callbacks(execute=True):
        events_dispatch()

    profile = ReferenceProfile.objects.get()
    assert profile.version_id == tagged.pk and profile.source == f"path:{named}" and profile.n_rows == 800
    failed = Event.objects.get(type="reference.failed")
    assert failed.version == broken.version and failed.payload["code"] == "path_not_allowed"


@pytest.mark.parametrize(
    "content, name, code, words",
    [
        (csv_bytes(customers(50).drop(columns=["monthly_spend"])), "ref.csv", "missing_features", "monthly_spend"),
        (b"PAR1 this is not parquet at all", "ref.parquet", "unreadable_file", "cannot be read"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff", "ref.csv", "unreadable_file", "cannot be read"),
        (b'tenure_months,monthly_spend\n"1,2\n', "ref.csv", "unreadable_file", "cannot be read"),
        (b"", "ref.csv", "empty_file", "empty"),
        (b"tenure_months,monthly_spend,support_tickets,label\n", "ref.csv", "empty_file", "no rows"),
        (b"tenure_months,monthly_spend,support_tickets\nabc,1,2\n", "ref.csv", "bad_values", "tenure_months"),
    ],
)
def test_bad_files_answer_422_naming_the_problem_and_store_nothing(
    api, production, contributor, content, name, code, words
):
    r = api(contributor).post(reference_url(), {"file": _file(name, content)}, format="multipart")

    assert r.status_code == 422, r.json()
    assert r.json()["error"]["code"] == code
    assert words in r.json()["error"]["message"].lower() or words in r.json()["error"]["message"]
    assert not ReferenceProfile.objects.exists() and not MonitorPolicy.objects.exists()


def test_a_body_over_the_limit_is_413(api, production, contributor, drift_settings):
    drift_settings.MAX_REQUEST_BYTES = 10_000

    r = api(contributor).post(reference_url(), data=csv_bytes(customers(2000)), content_type="text/csv")

    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert not ReferenceProfile.objects.exists()


def test_no_score_column_and_no_loadable_model_is_422(api, registered_model, contributor):
    register_version(contributor)  # tests.conftest.SCHEMA, a run no tracking server knows

    frame = customers(100)[["tenure_months"]].assign(plan="basic", monthly_spend=1.0)
    r = api(contributor).post(reference_url(), data=csv_bytes(frame), content_type="text/csv")

    assert r.status_code == 422 and r.json()["error"]["code"] == "cannot_score"
    assert "score column" in r.json()["error"]["message"]


def test_a_new_upload_replaces_the_profile(api, production, contributor):
    client = api(contributor)
    client.post(reference_url(), data=csv_bytes(customers(300)), content_type="text/csv")
    r = client.post(reference_url(), data=csv_bytes(customers(700, seed=9)), content_type="text/csv")

    assert r.status_code == 201
    assert ReferenceProfile.objects.get().n_rows == 700
    assert PeriodicTask.objects.filter(task="monitoring.tasks.drift_run_scheduled").count() == 1


def test_permissions_and_missing_things(api, production, viewer, contributor):
    assert api(viewer).post(reference_url(), data=csv_bytes(customers(50)), content_type="text/csv").status_code == 403
    assert api(viewer).get(reference_url()).status_code == 404
    assert api(contributor).get(reference_url(version=9)).json()["error"]["code"] == "version_not_found"
    assert api(contributor).get(reference_url(model="nope")).json()["error"]["code"] == "model_not_found"
    both = api(contributor).post(reference_url(), {"path": "/x.csv", "mlflow_artifact": "ref.csv"}, format="json")
    assert both.status_code == 422
    assert not ReferenceProfile.objects.exists()


def test_mlflow_artifact_of_the_versions_run(api, registered_model, contributor, drift_settings, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3.17 refuses a file store unless told

    store = f"file://{tmp_path / 'mlruns'}"
    client = MlflowClient(tracking_uri=store)
    run = client.create_run(client.create_experiment("drift"))
    table = tmp_path / "reference.csv"
    frame = customers(400)
    frame["score"] = frame["label"] * 0.9 + 0.05
    table.write_bytes(csv_bytes(frame))
    client.log_artifact(run.info.run_id, str(table), artifact_path="data")
    register_version(
        contributor,
        schema=[c for c in _serving_schema()],
        source=f"runs:/{run.info.run_id}/model",
        run_id=run.info.run_id,
    )
    drift_settings.MLFLOW_TRACKING_URI = store

    missing = api(contributor).post(reference_url(), {"mlflow_artifact": "data/nope.csv"}, format="json")
    r = api(contributor).post(reference_url(), {"mlflow_artifact": "data/reference.csv"}, format="json")

    assert missing.status_code == 422 and missing.json()["error"]["code"] == "artifact_not_found"
    assert r.status_code == 201, r.json()
    assert ReferenceProfile.objects.get().source == "mlflow:data/reference.csv"
    assert r.json()["metrics"]["accuracy"] == pytest.approx(1.0)


def _serving_schema():
    from tests.serving.conftest import SERVING_SCHEMA

    return SERVING_SCHEMA


def _file(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)
