"""The batch job page's progress bar follows the job while it runs, in a real browser."""

import pytest
from playwright.sync_api import expect

from serving.models import BatchJob
from tests.serving.conftest import running_batch_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_progress_bar_follows_the_job(page, login, contributor, registered_model):
    job = running_batch_job(contributor, registered_model)
    login(contributor)
    page.goto(f"/batch-jobs/{job.pk}/")
    bar = page.locator("#job-progress progress")
    expect(bar).to_have_js_property("value", 0.25)

    BatchJob.objects.filter(pk=job.pk).update(rows_done=3000)  # the worker commits a chunk
    expect(bar).to_have_js_property("value", 0.75)
    expect(page.locator("#job-progress .rows-done")).to_have_text("3000")

    BatchJob.objects.filter(pk=job.pk).update(rows_done=4000, status=BatchJob.Status.SUCCEEDED)
    expect(page.locator("#job-progress .status")).to_have_text("succeeded")
    expect(bar).to_have_js_property("value", 1)
