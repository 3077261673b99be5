"""Batch scoring from the browser: a contributor uploads a CSV on the model's batch page,
the job runs, and its output downloads from the job page; a viewer can download, not start."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from serving.models import BatchJob

pytestmark = pytest.mark.django_db

MODEL = "churn-predictor"
CSV = "tenure_months,monthly_spend,support_tickets\n3,50,7\n40,20,0\nnot-a-number,10,1\n"


def test_upload_score_and_download(client, contributor, viewer, served, django_capture_on_commit_callbacks):
    client.force_login(contributor)
    page = client.get(reverse("batch-jobs", args=[MODEL])).content.decode()
    assert 'id="batch-form"' in page and 'enctype="multipart/form-data"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("batch-start", args=[MODEL]),
            {"file": SimpleUploadedFile("rows.csv", CSV.encode(), content_type="text/csv"), "version": "1"},
        )
    job = BatchJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("batch-job", args=[job.pk])
    job.refresh_from_db()
    assert job.status == "succeeded" and job.rows_invalid == 1, job.error

    client.force_login(viewer)
    job_page = client.get(reverse("batch-job", args=[job.pk])).content.decode()
    assert 'id="download-output"' in job_page and 'id="download-output" data-when-succeeded' in job_page
    assert "hidden" not in job_page.split('id="download-output"', 1)[1].split(">", 1)[0]
    download = client.get(reverse("batch-job-download", args=[job.pk, "output"]))
    assert download.status_code == 200
    assert f'filename="{MODEL}-job{job.pk}-output.csv"' in download["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert len(rows) == 2 and all(r["request_id"] for r in rows)
    errors = client.get(reverse("batch-job-download", args=[job.pk, "errors"]))
    assert errors.status_code == 200 and b"not-a-number" in b"".join(errors.streaming_content)
    assert 'id="batch-form"' not in client.get(reverse("batch-jobs", args=[MODEL])).content.decode()
    assert client.post(reverse("batch-start", args=[MODEL]), {"version": "1"}).status_code == 403


def test_no_download_before_the_job_succeeded(client, viewer, contributor, registered_model):
    from tests.serving.conftest import running_batch_job

    job = running_batch_job(contributor, registered_model)
    client.force_login(viewer)
    response = client.get(reverse("batch-job-download", args=[job.pk, "output"]))
    assert response.status_code == 404 and "no output to download yet" in response.content.decode()


def test_a_missing_file_is_a_clear_error(client, contributor, served):
    client.force_login(contributor)
    response = client.post(reverse("batch-start", args=[MODEL]), {"version": "1"})
    assert response.status_code == 422 and "uploaded file" in response.content.decode()
    assert not BatchJob.objects.exists()
