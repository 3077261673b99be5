"""Historical retrieval as a job: 202 for a big frame or ?async=true, the file written by a
real Celery worker equal row for row to the streamed answer, progress, failures with their
reason, who may read a job, 409 before success, and a job whose worker stopped beating."""

import io
from datetime import timedelta

import pandas as pd
import pytest
from django.db import connection
from django.utils import timezone

from features.models import HistoricalJob
from features.services import historical_job_run
from features.services import historical_jobs as jobs
from retraining.tasks import recover_stale_jobs
from tests.conftest import make_user
from tests.processes import stop_processes, wait_for

from .conftest import start_worker
from .test_historical import _ask, store  # noqa: F401 - the fixture: push and table views with tricky data

pytestmark = pytest.mark.usefixtures("drop_schemas")
URL = "/api/v1/features/historical/"
FEATURES = "user_stats:age,user_stats:spend,user_stats:plan,user_stats:active,scores:score"


def _post(client, frame, query="", **fields):
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    buffer.seek(0)
    buffer.name = "entities.parquet"
    return client.post(URL + query, {"file": buffer, "features": FEATURES, **fields}, format="multipart")


def _download(client, job_id):
    answer = client.get(f"{URL}jobs/{job_id}/download/")
    assert answer.status_code == 200, answer.content if not answer.streaming else ""
    return b"".join(answer.streaming_content)


@pytest.fixture
def jobs_dir(settings, tmp_path):
    settings.FEATURE_HISTORICAL_JOBS_DIR = tmp_path / "jobs"
    return settings.FEATURE_HISTORICAL_JOBS_DIR


@pytest.mark.worker
def test_a_real_worker_writes_the_same_rows_as_the_sync_answer(store, api, viewer, jobs_dir, settings, monkeypatch):  # noqa: F811
    from control_plane.celery import app

    _, _, entities = store
    client = api(viewer, read_only=True)
    expected = _ask(client, entities, features=FEATURES)
    monkeypatch.setitem(app.conf, "CELERY_TASK_ALWAYS_EAGER", False)
    worker = start_worker(FEATURE_HISTORICAL_JOBS_DIR=str(jobs_dir), FEATURE_HISTORICAL_CHUNK_ROWS="37")
    try:
        answer = _post(client, entities, "?async=true")
        assert answer.status_code == 202, answer.content
        job = answer.json()
        assert job["status"] == "queued" and job["rows_total"] == len(entities) and job["download"] is None
        assert answer["Location"] == f"{URL}jobs/{job['id']}/"
        saved = HistoricalJob.objects.get(pk=job["id"])
        assert saved.input_path.startswith(str(jobs_dir.resolve())) and pd.read_parquet(saved.input_path).equals(entities)
        assert wait_for(lambda: HistoricalJob.objects.get(pk=job["id"]).finished, timeout=120)
    finally:
        stop_processes([worker])
    done = client.get(answer["Location"]).json()
    assert done["status"] == "succeeded", done
    assert done["rows_done"] == done["rows_total"] == len(entities) and done["progress"] == 1.0
    assert done["download"].endswith(f"{URL}jobs/{job['id']}/download/")
    got = pd.read_parquet(io.BytesIO(_download(client, job["id"])))
    pd.testing.assert_frame_equal(got, expected)


def test_a_frame_over_the_limit_becomes_a_job_unless_async_false(store, api, viewer, jobs_dir, settings):  # noqa: F811
    _, _, entities = store
    client = api(viewer)
    settings.FEATURE_HISTORICAL_CHUNK_ROWS = 50
    expected = _ask(client, entities, features=FEATURES, format="csv")
    settings.FEATURE_HISTORICAL_SYNC_MAX_ROWS = len(entities) - 1
    streamed = _post(client, entities, "?async=false", format="csv")
    assert streamed.status_code == 200
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(b"".join(streamed.streaming_content))), expected)
    answer = _post(client, entities, format="csv")  # eager Celery: the job runs at commit
    assert answer.status_code == 202, answer.content
    job = client.get(answer["Location"]).json()
    assert job["status"] == "succeeded" and job["format"] == "csv" and job["rows_done"] == len(entities), job
    got = pd.read_csv(io.BytesIO(_download(client, job["id"])))
    pd.testing.assert_frame_equal(got, expected)
    settings.FEATURE_HISTORICAL_SYNC_MAX_ROWS = len(entities)
    at_limit = _post(client, entities, format="csv")
    assert at_limit.status_code == 200 and len(pd.read_csv(io.BytesIO(b"".join(at_limit.streaming_content)))) == len(entities)


def test_progress_is_committed_chunk_by_chunk(store, api, viewer, jobs_dir, settings, monkeypatch):  # noqa: F811
    _, _, entities = store
    settings.FEATURE_HISTORICAL_CHUNK_ROWS = 100
    monkeypatch.setattr(jobs, "_enqueue", lambda job_id: None)
    job_id = _post(api(viewer), entities, "?async=true").json()["id"]
    seen = []
    real_update = jobs._counted

    def watching(job_id, chunks):
        for chunk in real_update(job_id, chunks):
            seen.append(HistoricalJob.objects.get(pk=job_id).rows_done)
            yield chunk

    monkeypatch.setattr(jobs, "_counted", watching)
    job = historical_job_run(job_id)
    assert job.status == "succeeded" and job.rows_done == job.rows_total == len(entities)
    assert seen == list(range(0, len(entities), 100))


def test_a_failing_job_says_why_and_its_file_is_409(store, api, viewer, jobs_dir, settings, monkeypatch):  # noqa: F811
    _, _, entities = store
    monkeypatch.setattr(jobs, "_enqueue", lambda job_id: None)  # no worker yet
    client = api(viewer)
    job = _post(client, entities, "?async=true").json()
    assert client.get(f"{URL}jobs/{job['id']}/").json()["status"] == "queued"
    early = client.get(f"{URL}jobs/{job['id']}/download/")
    assert early.status_code == 409 and early.json()["error"]["code"] == "job_not_ready"
    with connection.cursor() as cursor:  # the table source vanishes before the worker runs
        cursor.execute(f'DROP TABLE "{settings.FEATURE_SOURCE_SCHEMAS[0]}".scores')
    assert historical_job_run(job["id"]).status == "failed"
    failed = client.get(f"{URL}jobs/{job['id']}/").json()
    assert failed["status"] == "failed" and failed["finished_at"] and failed["download"] is None
    assert "The point-in-time join failed" in failed["error"] and "scores" in failed["error"], failed["error"]
    assert client.get(f"{URL}jobs/{job['id']}/download/").status_code == 409


def test_only_the_creator_or_an_admin_reads_a_job(store, api, viewer, admin, jobs_dir):  # noqa: F811
    _, _, entities = store
    job = _post(api(viewer), entities, "?async=true").json()
    other = api(make_user("other-viewer", "viewer"))
    for path in (f"{URL}jobs/{job['id']}/", f"{URL}jobs/{job['id']}/download/"):
        refused = other.get(path)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "job_not_found"
    assert api(admin).get(f"{URL}jobs/{job['id']}/").json()["status"] == "succeeded"
    assert len(pd.read_parquet(io.BytesIO(_download(api(admin), job["id"])))) == len(entities)
    assert api(viewer).get(f"{URL}jobs/{job['id'] + 1000}/").status_code == 404


def test_bad_requests_answer_before_any_job(store, api, viewer, jobs_dir):  # noqa: F811
    _, _, entities = store
    client = api(viewer)
    bad_flag = _post(client, entities, "?async=maybe")
    assert bad_flag.status_code == 422 and "async" in bad_flag.json()["error"]["details"]
    bad_frame = _post(client, entities.drop(columns=["event_timestamp"]), "?async=true")
    assert bad_frame.status_code == 422 and "event_timestamp" in bad_frame.json()["error"]["details"]
    assert not HistoricalJob.objects.exists()


def test_a_job_whose_worker_stopped_beating_is_failed_by_the_sweep(store, api, viewer, jobs_dir, settings, monkeypatch):  # noqa: F811
    _, _, entities = store
    monkeypatch.setattr(jobs, "_enqueue", lambda job_id: None)
    job_id = _post(api(viewer), entities, "?async=true").json()["id"]
    beaten = timezone.now() - timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS - 30)
    HistoricalJob.objects.filter(pk=job_id).update(status="running", heartbeat_at=beaten)
    assert recover_stale_jobs()["historical_jobs"] == 0  # still beating recently enough
    HistoricalJob.objects.filter(pk=job_id).update(heartbeat_at=beaten - timedelta(seconds=60))
    assert recover_stale_jobs()["historical_jobs"] == 1
    failed = api(viewer).get(f"{URL}jobs/{job_id}/").json()
    assert failed["status"] == "failed" and "Worker lost" in failed["error"]
    assert historical_job_run(job_id).status == "failed"  # a late redelivery does not revive it
