"""A drift run started from the API is done by a real Celery worker, and the scheduled task
beat would send runs there too."""

import pytest

from monitoring.models import DriftReport
from monitoring.tasks import drift_run_scheduled
from tests.monitoring import drift_support
from tests.monitoring.drift_support import MODEL, customers, log_traffic
from tests.processes import wait_for

pytestmark = pytest.mark.worker
drift_settings = drift_support.drift_settings
saved_model = drift_support.saved_model
production = drift_support.production
referenced = drift_support.referenced


def test_a_run_started_by_the_api_is_done_by_the_worker(worker, api, referenced, contributor):
    log_traffic(referenced, customers(600, seed=21, tenure_shift=30.0))

    started = api(contributor).post(f"/api/v1/models/{MODEL}/drift/run/", {}, format="json")

    assert started.status_code == 202 and started.json()["status"] == "running"
    report = DriftReport.objects.get(pk=started.json()["id"])
    assert wait_for(lambda: DriftReport.objects.get(pk=report.pk).status != "running", timeout=60)
    report.refresh_from_db()
    assert report.status == "succeeded", report.error
    assert report.sample_size == 600 and "tenure_months" in report.drifted_features


def test_beats_task_runs_on_the_worker(worker, referenced):
    log_traffic(referenced, customers(300, seed=22))

    drift_run_scheduled.delay(referenced.model_id)

    assert wait_for(lambda: DriftReport.objects.filter(trigger="schedule", status="succeeded").exists(), timeout=60)
