"""Drift reports and batch jobs whose worker stopped beating are failed or resumed within
minutes (they used to wait an hour), and a heartbeat thread really stamps its row."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from control_plane.heartbeat import Heartbeat
from monitoring.drift_jobs import drift_reports_fail_stale
from monitoring.models import DriftReport
from serving.batch_services import MAX_RESTARTS, batch_jobs_recover_stale
from serving.models import BatchJob

pytestmark = pytest.mark.django_db


def _later(settings):
    return timezone.now() + timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS + 1)


def test_a_drift_report_without_heartbeat_fails_within_minutes(champion, settings):
    now = timezone.now()
    window = dict(model=champion.model, version=champion, window_start=now - timedelta(days=1), window_end=now)
    beating = DriftReport.objects.create(heartbeat_at=now, **window)
    queued = DriftReport.objects.create(**window)  # not started yet: no heartbeat, left alone
    assert drift_reports_fail_stale(now=now) == 0
    assert drift_reports_fail_stale(now=_later(settings)) == 1
    beating.refresh_from_db(), queued.refresh_from_db()
    assert beating.status == "failed" and "Worker lost" in beating.error and queued.status == "running"


def test_a_batch_job_without_heartbeat_is_resumed_then_failed(champion, settings, tmp_path):
    job = BatchJob.objects.create(model=champion.model, version=champion, status="running", input_path=str(tmp_path / "in.csv"),
                                  input_format="csv", output_path=str(tmp_path / "out.csv"), chunk_rows=100,
                                  heartbeat_at=timezone.now())
    for restart in range(1, MAX_RESTARTS + 1):
        assert batch_jobs_recover_stale(now=_later(settings)) == {"resumed": 1, "failed": 0}
        job.refresh_from_db()
        assert job.status == "queued" and job.restarts == restart
        BatchJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=timezone.now())  # the resumed run
    assert batch_jobs_recover_stale(now=_later(settings)) == {"resumed": 0, "failed": 1}
    job.refresh_from_db()
    assert job.status == "failed" and "Worker lost" in job.error


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_stamps_the_row(champion, settings):
    settings.HEARTBEAT_SECONDS = 0.05
    now = timezone.now()
    old = now - timedelta(hours=1)
    report = DriftReport.objects.create(model=champion.model, version=champion, window_start=now - timedelta(days=1),
                                        window_end=now, heartbeat_at=old)
    with Heartbeat(DriftReport, report.pk):
        deadline = time.monotonic() + 10
        while DriftReport.objects.get(pk=report.pk).heartbeat_at == old and time.monotonic() < deadline:
            time.sleep(0.05)
    report.refresh_from_db()
    assert report.heartbeat_at > old
