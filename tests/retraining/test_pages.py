"""The retraining pages show what happened: the grid, a run's steps and evaluation, the
policy form's refusals, and the evaluation on the promotion request page."""

import pytest

from retraining.models import RetrainingRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, contributor):
    from tests.conftest import PASSWORD

    client.login(username=contributor.username, password=PASSWORD)
    return client


def test_run_now_from_the_page_then_the_run_page_and_the_request_page(browser, policy, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/models/churn-predictor/retraining/run/", {"reason": "from the page"})
    run = RetrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/retraining/runs/{run.pk}/"
    page = browser.get(f"/retraining/runs/{run.pk}/").content.decode()
    assert 'id="run-status">succeeded' in page and "beats the champion" in page
    assert f'href="/promotions/{run.promotion_request_id}/"' in page and 'id="chart-metric"' in page
    grid = browser.get("/models/churn-predictor/retraining/").content.decode()
    assert grid.count('class="square step-succeeded"') >= 5 and f"#{run.pk}" in grid
    request_page = browser.get(f"/promotions/{run.promotion_request_id}/").content.decode()
    assert 'id="evaluation"' in request_page and f"retraining run <a href=\"/retraining/runs/{run.pk}/\">" in request_page
    strip = browser.get("/models/churn-predictor/").content.decode().split('id="model-summary"', 1)[1]
    last = strip.split("</section>", 1)[0].split('id="summary-retraining"', 1)[1]
    assert f'href="/retraining/runs/{run.pk}/"' in last and "succeeded (beats the champion" in last


def test_the_policy_form_names_bad_json_and_keeps_the_input(browser, registered_model):
    response = browser.post("/models/churn-predictor/retraining/policy/", {
        "enabled": "on", "trainer": "{not json", "triggers": "{}", "evaluation": "{}", "cooldown_hours": "1",
        "max_runs_per_day": "2", "window_days": "30"})
    assert response.status_code == 422
    body = response.content.decode()
    assert "&#x27;trainer&#x27; is not valid JSON" in body and "{not json" in body
