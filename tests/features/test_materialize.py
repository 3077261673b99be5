"""Materialization: a backfill through the API (202, the run), incremental runs that pick
up only rows after the watermark, the beat schedule, and a run whose worker is killed
(SIGKILL) that resumes from its cursor on a new worker."""

import signal
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from features.client import FeatureStore
from features.models import FeatureView, MaterializationRun
from features.services import definitions_apply, materialization_start, resume_stale_runs
from tests.processes import stop_processes, wait_for

from .conftest import start_worker

pytestmark = pytest.mark.usefixtures("drop_schemas")


def _table(rows):
    schema = settings.FEATURE_SOURCE_SCHEMAS[0]
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        cursor.execute(f'CREATE TABLE IF NOT EXISTS "{schema}".activity (user_id bigint, ts timestamptz, '
                       'created timestamptz, clicks bigint, ratio double precision)')
        with cursor.copy(f'COPY "{schema}".activity FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)


def _define(actor, schedule=""):
    definitions_apply(actor=actor, document={
        "entities": [{"name": "user", "join_keys": [{"name": "user_id", "type": "int"}]}],
        "feature_views": [{
            "name": "activity", "entity": "user", "ttl": "2d", "schedule": schedule,
            "features": [{"name": "clicks", "type": "int"}, {"name": "ratio", "type": "float"}],
            "source": {"kind": "table", "table": f"{settings.FEATURE_SOURCE_SCHEMAS[0]}.activity"},
            "event_timestamp_column": "ts", "created_timestamp_column": "created"}]})


def _clicks(users):
    return FeatureStore().get_online_features(features=["activity:clicks"],
                                              entity_rows=[{"user_id": u} for u in users]).to_dict()["clicks"]


def test_backfill_then_incremental_picks_up_only_new_rows(contributor, api):
    now = timezone.now()
    hour = timedelta(hours=1)
    _table([(u, now - 5 * hour + v * hour, None, u * 10 + v, 0.5) for u in range(20) for v in range(3)]
           + [(0, now - 4 * hour, now, 999, 0.1)])  # a correction of user 0's second row
    _define(contributor, schedule="*/10 * * * *")
    answer = api(contributor).post("/api/v1/features/views/activity/materialize/", {}, format="json")
    assert answer.status_code == 202 and answer.json()["kind"] == "backfill"
    run = MaterializationRun.objects.get(pk=answer.json()["id"])
    assert run.status == "succeeded", run.error
    assert (run.keys_written, run.keys_total) == (20, 20)
    assert _clicks(range(20)) == [u * 10 + 2 for u in range(20)]
    watermark = FeatureView.objects.get(name="activity").watermark
    assert watermark == run.window_end
    # New rows after the watermark for 3 users; a late row before it is not picked up.
    later = timezone.now() + timedelta(seconds=1)
    _table([(u, watermark + timedelta(microseconds=1), None, 5000 + u, 0.2) for u in (1, 2, 3)]
           + [(4, watermark - hour, now + hour, 7777, 0.3)])
    with pytest.raises(Exception):  # the window (watermark, now] is checked
        materialization_start(actor=contributor, view_name="activity", kind="backfill", start=later)
    incremental = materialization_start(actor=contributor, view_name="activity", kind="incremental")
    incremental.refresh_from_db()
    assert incremental.window_start == watermark and incremental.keys_written == 3
    assert _clicks([1, 2, 3, 4]) == [5001, 5002, 5003, 42]
    task = PeriodicTask.objects.get(name="features: materialize activity")
    assert task.task == "features.tasks.materialize_scheduled" and task.crontab.minute == "*/10"
    page = api(contributor).get("/api/v1/features/views/activity/").json()
    assert page["freshness"]["lag_exceeds_ttl"] is False and page["runs"][0]["keys_written"] == 3


def test_one_run_at_a_time(contributor, api, monkeypatch):
    from control_plane.celery import app

    monkeypatch.setitem(app.conf, "CELERY_TASK_ALWAYS_EAGER", False)  # no worker: the run stays queued
    _table([(1, timezone.now() - timedelta(hours=1), None, 1, 0.1)])
    _define(contributor)
    first = api(contributor).post("/api/v1/features/views/activity/materialize/", {}, format="json")
    again = api(contributor).post("/api/v1/features/views/activity/materialize/", {}, format="json")
    assert first.status_code == 202 and first.json()["status"] == "queued"
    assert again.status_code == 409 and again.json()["error"]["details"]["run"] == first.json()["id"]


@pytest.mark.worker
def test_a_killed_run_resumes_from_its_cursor(contributor, monkeypatch):
    from control_plane.celery import app

    monkeypatch.setitem(app.conf, "CELERY_TASK_ALWAYS_EAGER", False)
    now = timezone.now()
    users = 60_000
    _table([(u, now - timedelta(hours=1), None, u, 0.5) for u in range(users)])
    _define(contributor)
    first = start_worker(FEATURE_MATERIALIZE_BATCH="200")
    try:
        run = materialization_start(actor=contributor, view_name="activity", kind="backfill")
        assert wait_for(lambda: MaterializationRun.objects.get(pk=run.pk).keys_written >= 2000, timeout=120)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed = MaterializationRun.objects.get(pk=run.pk)
        assert killed.status == "running" and 0 < killed.keys_written < users
        assert resume_stale_runs(stale_seconds=0) == [run.pk]
        second = start_worker(FEATURE_MATERIALIZE_BATCH="5000")
        try:
            assert wait_for(lambda: MaterializationRun.objects.get(pk=run.pk).status == "succeeded", timeout=180)
        finally:
            stop_processes([second])
    finally:
        if first.poll() is None:
            first.kill()
        stop_processes([first])
    done = MaterializationRun.objects.get(pk=run.pk)
    assert done.attempts == 2 and done.keys_written == users == done.keys_total
    sample = list(range(0, users, 997))
    assert _clicks(sample) == sample
