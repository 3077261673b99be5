"""Batch scoring: the API, the chunked task (eager Celery), errors, cancellation, resume."""

import numpy as np
import pandas as pd
import pytest

from monitoring.models import PredictionLog
from serving import batch_services
from serving.models import BatchJob

pytestmark = pytest.mark.django_db
URL = "/api/v1/batch-jobs/"


@pytest.fixture(autouse=True)
def batch_settings(settings, tmp_path):
    settings.BATCH_DIR = tmp_path / "batch"
    settings.BATCH_DIR.mkdir()
    settings.BATCH_CHUNK_ROWS = 1000
    return settings


def frame(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure_months": rng.uniform(0, 60, n).round(2),
            "monthly_spend": rng.uniform(10, 200, n).round(2),
            "support_tickets": rng.integers(0, 10, n),
            "customer": [f"c{i}" for i in range(n)],  # not a feature: ignored
        }
    )


def write_csv(settings, n: int, name: str = "in.csv") -> str:
    path = settings.BATCH_DIR / name
    frame(n).to_csv(path, index=False)
    return str(path)


def test_csv_is_scored_chunk_by_chunk_with_request_ids_and_logged(api, served, contributor, viewer,
                                                                 batch_settings, django_capture_on_commit_callbacks):
    path = write_csv(batch_settings, 2500)

    with django_capture_on_commit_callbacks(execute=True):
        r = api(contributor).post(URL, {"model": "churn-predictor", "input": path}, format="json")

    assert r.status_code == 201, r.json()
    job_id = r.json()["id"]
    got = api(viewer).get(f"{URL}{job_id}/").json()
    assert got["status"] == "succeeded", got
    assert got["rows_done"] == got["rows_total"] == 2500 and got["chunks_done"] == 3
    assert got["progress"] == 1.0 and got["version"] == 1 and got["rows_invalid"] == 0
    out = pd.read_csv(got["output_path"])
    assert len(out) == 2500
    assert list(out.columns) == ["request_id", "row", "label", "probability"]
    assert out["request_id"].tolist() == [f"{job_id}-{i}" for i in range(2500)]
    assert out["label"].isin([0, 1]).all() and out["probability"].between(0.5, 1).all()
    logged = PredictionLog.objects.filter(variant="batch", model_name="churn-predictor")
    assert logged.count() == 2500
    first = logged.get(request_id=f"{job_id}-0")
    assert first.model_version == 1 and set(first.features) == {"tenure_months", "monthly_spend", "support_tickets"}
    listed = api(viewer).get(URL).json()
    assert [j["id"] for j in listed["results"]] == [job_id]


def test_predictions_match_the_predict_endpoint(api, served, contributor, batch_settings,
                                                django_capture_on_commit_callbacks):
    from tests.serving.conftest import ROW

    path = batch_settings.BATCH_DIR / "one.csv"
    pd.DataFrame([ROW]).to_csv(path, index=False)
    with django_capture_on_commit_callbacks(execute=True):
        job_id = api(contributor).post(URL, {"model": "churn-predictor", "input": str(path)}, format="json").json()["id"]
    served_answer = api(contributor, serve_only=True).post(
        "/api/v1/serve/churn-predictor/predict", {"instances": [ROW]}, format="json"
    ).json()["predictions"][0]
    out = pd.read_csv(BatchJob.objects.get(pk=job_id).output_path)
    assert out["label"][0] == served_answer["label"]
    assert out["probability"][0] == pytest.approx(served_answer["probability"])


def test_invalid_rows_go_to_the_errors_file_and_are_not_scored(api, served, contributor, batch_settings,
                                                              django_capture_on_commit_callbacks):
    data = frame(1500).astype(object)
    data.loc[3, "tenure_months"] = "abc"
    data.loc[1200, "support_tickets"] = 2.5
    data.loc[1300, "monthly_spend"] = None
    path = batch_settings.BATCH_DIR / "bad.csv"
    data.to_csv(path, index=False)

    with django_capture_on_commit_callbacks(execute=True):
        job_id = api(contributor).post(URL, {"model": "churn-predictor", "input": str(path)}, format="json").json()["id"]

    job = BatchJob.objects.get(pk=job_id)
    assert job.status == "succeeded" and job.rows_done == 1500 and job.rows_invalid == 3
    out = pd.read_csv(job.output_path)
    assert len(out) == 1497 and not out["row"].isin([3, 1200, 1300]).any()
    errors = pd.read_csv(job.errors_path)
    assert errors["row"].tolist() == [3, 1200, 1300]
    assert errors["field"].tolist() == ["tenure_months", "support_tickets", "monthly_spend"]
    assert "'abc'" in errors["problem"][0] and "null" in errors["problem"][2]
    assert PredictionLog.objects.filter(variant="batch").count() == 1497


def test_a_missing_feature_column_fails_the_job_with_a_reason(served, contributor, batch_settings,
                                                               django_capture_on_commit_callbacks):
    path = batch_settings.BATCH_DIR / "nocol.csv"
    frame(10).drop(columns=["support_tickets"]).to_csv(path, index=False)
    with django_capture_on_commit_callbacks(execute=True):
        job = batch_services.batch_job_create(actor=contributor, model_name="churn-predictor", input_path=str(path))
    job.refresh_from_db()
    assert job.status == "failed" and "support_tickets" in job.error


def test_cancel_stops_between_chunks(served, contributor, batch_settings, monkeypatch):
    path = write_csv(batch_settings, 3500)
    job = batch_services.batch_job_create(actor=contributor, model_name="churn-predictor", input_path=path)
    from serving import batch

    real = batch.score_chunk

    def cancel_during_chunk_two(spec, index, chunk):
        if index == 1:
            batch_services.batch_job_cancel(actor=contributor, job_id=job.pk)
        return real(spec, index, chunk)

    monkeypatch.setattr(batch, "score_chunk", cancel_during_chunk_two)
    batch_services.batch_job_run(job.pk)

    job.refresh_from_db()
    assert job.status == "cancelled" and job.chunks_done == 2 and job.rows_done == 2000
    assert PredictionLog.objects.filter(variant="batch").count() == 2000
    assert batch_services.batch_job_run(job.pk).chunks_done == 2  # a cancelled job is not run again


def test_cancel_through_the_api_and_roles(api, served, contributor, viewer, batch_settings):
    path = write_csv(batch_settings, 10)
    assert api(viewer).post(URL, {"model": "churn-predictor", "input": path}, format="json").status_code == 403
    r = api(contributor).post(URL, {"model": "churn-predictor", "input": path}, format="json")  # not committed: queued
    job_id = r.json()["id"]
    assert r.json()["status"] == "queued"
    assert api(viewer).post(f"{URL}{job_id}/cancel/").status_code == 403
    cancelled = api(contributor).post(f"{URL}{job_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api(contributor).post(f"{URL}{job_id}/cancel/").status_code == 409


def test_a_restart_resumes_after_the_last_finished_chunk(served, contributor, batch_settings):
    path = write_csv(batch_settings, 2500)
    job = batch_services.batch_job_create(actor=contributor, model_name="churn-predictor", input_path=path)

    batch_services.batch_job_run(job.pk, max_chunks=1)  # the worker dies after chunk 1
    job.refresh_from_db()
    assert job.status == "running" and job.chunks_done == 1 and job.rows_done == 1000
    from serving.tasks import run_batch_job

    run_batch_job.delay(job.pk)  # the message delivered again

    job.refresh_from_db()
    assert job.status == "succeeded" and job.rows_done == job.rows_total == 2500
    out = pd.read_csv(job.output_path)
    assert len(out) == 2500 and out["row"].is_unique and out["request_id"].is_unique
    assert out["row"].tolist() == list(range(2500))
    assert PredictionLog.objects.filter(variant="batch").count() == 2500


def test_a_crash_between_the_part_file_and_its_commit_rewrites_that_chunk_once(served, contributor, batch_settings,
                                                                               monkeypatch):
    path = write_csv(batch_settings, 2500)
    job = batch_services.batch_job_create(actor=contributor, model_name="churn-predictor", input_path=path)
    from serving import batch

    real = batch.write_part

    def crash_after_second_part(spec, index, out, errors):
        real(spec, index, out, errors)
        if index == 1:
            raise SystemExit("worker killed")

    monkeypatch.setattr(batch, "write_part", crash_after_second_part)
    with pytest.raises(SystemExit):
        batch_services.batch_job_run(job.pk)
    monkeypatch.setattr(batch, "write_part", real)
    job.refresh_from_db()
    assert job.chunks_done == 1

    batch_services.batch_job_run(job.pk)
    job.refresh_from_db()
    out = pd.read_csv(job.output_path)
    assert job.status == "succeeded" and job.rows_done == 2500
    assert out["row"].tolist() == list(range(2500))
    # chunk 1 was logged, then scored and logged again: the job's fixed time keeps it one row each
    assert PredictionLog.objects.filter(variant="batch").count() == 2500


def test_parquet_input_and_output(api, served, contributor, batch_settings, django_capture_on_commit_callbacks):
    path = batch_settings.BATCH_DIR / "in.parquet"
    frame(2300).to_parquet(path, row_group_size=700)  # row groups that do not line up with chunks

    with django_capture_on_commit_callbacks(execute=True):
        r = api(contributor).post(URL, {"model": "churn-predictor", "input": str(path), "version": 2}, format="json")

    job = BatchJob.objects.get(pk=r.json()["id"])
    assert job.status == "succeeded" and job.rows_done == job.rows_total == 2300 and job.version.version == 2
    assert job.output_path.endswith(".parquet")
    out = pd.read_parquet(job.output_path)
    assert out["row"].tolist() == list(range(2300))
    assert PredictionLog.objects.filter(variant="batch", model_version=2).count() == 2300


def test_upload_is_saved_under_the_batch_folder(api, served, contributor, batch_settings,
                                                django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("mine.csv", frame(20).to_csv(index=False).encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        r = api(contributor).post(URL, {"model": "churn-predictor", "file": upload, "output": "out/mine.parquet"},
                                  format="multipart")

    assert r.status_code == 201, r.json()
    job = BatchJob.objects.get(pk=r.json()["id"])
    assert job.input_path.startswith(str(batch_settings.BATCH_DIR.resolve() / "uploads"))
    assert job.status == "succeeded" and len(pd.read_parquet(job.output_path)) == 20


@pytest.mark.parametrize(
    "body, status",
    [
        ({"model": "churn-predictor", "input": "/etc/passwd.csv"}, 422),
        ({"model": "churn-predictor", "input": "missing.csv"}, 422),
        ({"model": "churn-predictor"}, 422),
        ({"model": "nope", "input": "in.csv"}, 404),
        ({"model": "churn-predictor", "input": "in.csv", "version": 9}, 404),
        ({"model": "churn-predictor", "input": "in.csv", "output": "in.csv"}, 409),
        ({"model": "churn-predictor", "input": "in.csv", "colour": "red"}, 422),
    ],
)
def test_bad_requests(api, served, contributor, batch_settings, body, status):
    write_csv(batch_settings, 5)
    r = api(contributor).post(URL, body, format="json")
    assert r.status_code == status, r.json()
    assert not BatchJob.objects.exists()
