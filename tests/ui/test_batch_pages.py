"""Batch job pages: the model's job list and one job with its progress bar and Cancel."""

import pytest
from django.test import Client

from serving.models import BatchJob
from tests.serving.conftest import running_batch_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(contributor, registered_model):
    return running_batch_job(contributor, registered_model)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_job_list_shows_each_jobs_progress(viewer, job):
    response = _client(viewer).get(f"/models/{job.model.name}/batch/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-job-id="{job.pk}"' in html and 'value="0.2500"' in html
    assert '<span class="rows-done">1000</span> / <span class="rows-total">4000</span>' in html
    assert f'data-api="/api/v1/batch-jobs/{job.pk}/"' in html


def test_contributor_cancels_from_the_job_page(contributor, job):
    client = _client(contributor)
    page = client.get(f"/batch-jobs/{job.pk}/").content.decode()
    assert 'id="cancel-job"' in page
    response = client.post(f"/batch-jobs/{job.pk}/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == BatchJob.Status.CANCELLED and job.finished_at is not None
    assert 'id="cancel-job"' not in client.get(f"/batch-jobs/{job.pk}/").content.decode()


def test_viewer_sees_no_cancel_and_a_forged_post_changes_nothing(viewer, job):
    client = _client(viewer)
    assert 'id="cancel-job"' not in client.get(f"/batch-jobs/{job.pk}/").content.decode()
    response = client.post(f"/batch-jobs/{job.pk}/")
    assert response.status_code == 403
    job.refresh_from_db()
    assert job.status == BatchJob.Status.RUNNING


def test_unknown_job_is_404(viewer):
    assert _client(viewer).get("/batch-jobs/999999/").status_code == 404
