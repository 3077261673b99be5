"""A real headless Chromium (Debian's, not Playwright's download) against the live server."""

import os
import re

import pytest

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="package")
def chromium():
    """One browser for every test of tests/e2e (a fresh context per test keeps them apart),
    closed when the package ends so Playwright's event loop leaves the other tests alone."""
    if not os.path.exists(CHROMIUM):
        # A missing browser is a broken set-up, not a reason to pass: .ci/run installs it.
        pytest.fail(f"No Chromium at {CHROMIUM}: apt-get install chromium, or set E2E_CHROMIUM.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def viewport():
    """Override in a test module (or parametrize) for another screen size."""
    return {"width": 1366, "height": 900}


@pytest.fixture
def page(chromium, live_server, viewport):
    """A fresh browser context (no cookies) per test, with a 15 s default timeout."""
    context = chromium.new_context(base_url=live_server.url, viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def login(page):
    """login(user) fills in the login form and lands on the home page."""
    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    def do_login(user):
        page.goto("/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("#login-button")
        page.wait_for_url(re.compile(r"^https?://[^/]+/$"))
        expect(page.locator(".whoami .username")).to_have_text(user.username)

    return do_login


@pytest.fixture
def logout(page):
    def do_logout():
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url("**/accounts/login/")

    return do_logout
