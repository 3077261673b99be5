"""The compare view in Chromium: Plotly (served from static/) draws one bar trace per
version over the metrics; choosing versions with the checkboxes reloads the comparison."""

import pytest
from playwright.sync_api import expect

from tests.conftest import promote, staged_version

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MODEL = "churn-predictor"
SCREENSHOT = "/tmp/ui-compare.png"


def test_grouped_bars_and_choosing_versions(page, login, viewer, contributor, approver, registered_model):
    promote(contributor, approver, metrics={"auc": 0.81, "f1": 0.7})
    staged_version(contributor, metrics={"auc": 0.86, "f1": 0.72})
    staged_version(contributor, metrics={"auc": 0.84, "f1": 0.69})
    login(viewer)
    page.goto(f"/models/{MODEL}/versions/2/")
    page.locator("#compare-link").click()
    page.wait_for_url(f"**/models/{MODEL}/compare/?versions=2,1")
    page.wait_for_function("() => document.querySelectorAll('#chart-metrics .trace.bars').length === 2")
    drawn = page.evaluate(
        "() => document.getElementById('chart-metrics').data.map(t => [t.type, t.name, t.x.join(','), t.y.join(',')])"
    )
    assert drawn == [["bar", "v2 (staging)", "auc,f1", "0.86,0.72"], ["bar", "v1 (production)", "auc,f1", "0.81,0.7"]]
    page.locator('#compare-form input[name="v"][value="3"]').check()
    page.locator("#compare-form button").click()
    page.wait_for_url("**/compare/?versions=3%2C2%2C1")
    page.wait_for_function("() => document.querySelectorAll('#chart-metrics .trace.bars').length === 3")
    expect(page.locator("#compare-metrics thead")).to_contain_text("v3")
    page.screenshot(path=SCREENSHOT, full_page=True)
