"""The retraining pages in a real browser: the policy is edited through the form, the
"Run now" button starts a run (the eager task trains, evaluates and stages a real model),
the run page shows the step grid and draws the evaluation's charts, and the model's runs
list links to it. Nothing reaches Production (tests.retraining.conftest's check)."""

import json

import pytest
from playwright.sync_api import expect

from retraining.models import RetrainingPolicy, RetrainingRun
from tests.retraining.conftest import (  # noqa: F401 - fixtures
    GOOD, champion, champion_source, no_production_from_retraining, retraining_settings, traffic,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MODEL = "churn-predictor"
TRAINING_TIMEOUT_MS = 180_000  # the button's request trains a real model before it answers


def test_edit_the_policy_run_now_and_read_the_run(page, login, contributor, traffic):
    login(contributor)
    page.goto(f"/models/{MODEL}/retraining/")
    expect(page.locator("#no-policy")).to_be_visible()

    form = page.locator("#policy-form")
    form.locator('input[name="enabled"]').check()
    form.locator('textarea[name="trainer"]').fill(json.dumps({"kind": "python", "callable": GOOD}))
    form.locator('textarea[name="triggers"]').fill(json.dumps({"drift": {"psi_threshold": 0.2}, "schedule": "0 4 * * 1"}))
    form.locator('textarea[name="evaluation"]').fill(
        json.dumps({"metric": "roc_auc", "min_improvement": 0.01, "holdout": 0.3, "bootstrap": 100}))
    form.locator('input[name="cooldown_hours"]').fill("0")
    form.locator('input[name="max_runs_per_day"]').fill("5")
    page.click("#policy-save")
    expect(page.locator("#policy-state")).to_have_text("enabled")
    policy = RetrainingPolicy.objects.get(model__name=MODEL)
    assert policy.trainer["callable"] == GOOD and policy.triggers["drift"]["psi_threshold"] == 0.2
    assert policy.triggers["schedule"] == "0 4 * * 1" and policy.max_runs_per_day == 5

    page.fill('#runs input[name="reason"]', "from the browser")
    with page.expect_navigation(url="**/retraining/runs/*/", timeout=TRAINING_TIMEOUT_MS):
        page.click("#run-now")
    run = RetrainingRun.objects.get(model__name=MODEL)
    assert page.url.endswith(f"/retraining/runs/{run.pk}/")
    expect(page.locator("#run-status")).to_have_text("succeeded")
    expect(page.locator("#run-trigger")).to_contain_text("from the browser")
    expect(page.locator("#steps tr[id^=step-] .square.step-succeeded")).to_have_count(5)
    expect(page.locator("#run-version a")).to_have_text(f"v{run.version.version}")
    expect(page.locator("#run-version")).to_contain_text("staging")
    expect(page.locator("#run-request a")).to_have_text(f"#{run.promotion_request_id}")

    page.wait_for_function("() => ['chart-metric', 'chart-scores', 'chart-calibration']"
                           ".every((id) => { const el = document.getElementById(id); return el && el._fullData; })")
    drawn = page.evaluate("""() => ({
        metric: document.getElementById('chart-metric')._fullData[0].y.map(Number),
        shares: document.getElementById('chart-scores')._fullData.map((t) => Array.from(t.y).reduce((a, b) => a + b, 0)),
    })""")
    evaluation = run.evaluation
    assert drawn["metric"] == pytest.approx([evaluation["champion_value"], evaluation["challenger_value"]])
    assert drawn["shares"] == pytest.approx([1.0, 1.0], abs=1e-4)  # champion and challenger, as shares

    page.goto(f"/models/{MODEL}/retraining/")
    row = page.locator("#run-grid tbody tr").first
    expect(row.locator(".square.step-succeeded")).to_have_count(5)
    expect(row).to_contain_text("manual")
    row.locator(f'a[href="/retraining/runs/{run.pk}/"]').first.click()
    page.wait_for_url(f"**/retraining/runs/{run.pk}/")
    run.version.refresh_from_db()
    assert run.version.stage == "staging"
