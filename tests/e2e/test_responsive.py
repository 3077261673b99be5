"""The layout at a laptop's 1366 px and a narrow 800 px, in Chromium: no page is wider than
the window (tables scroll in their own box), and at 800 px the navigation folds behind
"Menu" with every link clickable, none under the user badge. Screenshots land in /tmp."""

import pytest
from django.db import transaction
from playwright.sync_api import expect

from control_plane.demo_drift import seed_drift_demo
from control_plane.demo_models import save_churn_model
from control_plane.journal import event_append
from control_plane.management.commands.seed_demo import SCHEMA
from registry import model_loading
from tests.conftest import promote, staged_version

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MODEL = "churn-predictor"
PAGES = {
    "home": "/",
    "model": f"/models/{MODEL}/",
    "audit": "/audit/",
    "monitoring": f"/models/{MODEL}/monitoring/",
    "deployment": f"/models/{MODEL}/deployment/",
    "approvals": "/approvals/",
    "tokens": "/tokens/",
}


@pytest.fixture
def world(settings, tmp_path, contributor, approver, admin, registered_model):
    settings.VAR_DIR = tmp_path / "var"
    model_loading.cache_clear()
    source = save_churn_model(tmp_path / "churn", seed=2, depth=4)
    promote(contributor, approver, source=source, schema=SCHEMA)
    staged_version(contributor, source=source, schema=SCHEMA)
    seed_drift_demo(actor=contributor, days=2, rows_per_day=200, reference_rows=500)
    with transaction.atomic():
        event_append(
            type="drift.detected",
            actor=contributor,
            model_name=MODEL,
            version=1,
            payload={"drift_report": 1, "features": [{"feature": "a_rather_long_feature_name_" * 3, "psi": 0.4}]},
        )
    yield
    model_loading.cache_clear()


def page_overflow(page) -> int:
    """How many pixels the document is wider than the window (0: fits)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 900}, {"width": 800, "height": 900}], ids=["1366", "800"])
def test_pages_fit_the_window_and_the_navigation_works(page, login, admin, world, viewport):
    login(admin)
    for name, url in PAGES.items():
        page.goto(url)
        page.wait_for_load_state("load")
        page.screenshot(path=f"/tmp/ui-{name}-{viewport['width']}.png", full_page=True)
        assert page_overflow(page) <= 0, (name, viewport["width"], page_overflow(page))
    menu = page.locator("#nav-toggle")
    if viewport["width"] <= 800:
        expect(menu).to_be_visible()
        expect(page.get_by_role("link", name="API tokens")).to_be_hidden()
        menu.click()
    else:
        expect(menu).to_be_hidden()
    for name in ("API docs", "API tokens"):
        link = page.get_by_role("link", name=name)
        expect(link).to_be_visible()
        # The link itself is what a click at its centre reaches (not the user badge over it).
        assert link.evaluate(
            """(el) => { const r = el.getBoundingClientRect();
                         return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === el; }"""
        ), name
    page.get_by_role("link", name="API tokens").click()
    page.wait_for_url("**/tokens/")
