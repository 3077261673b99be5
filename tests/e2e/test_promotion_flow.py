"""The promotion path through a real browser: request, four-eyes approval, and the
refusal of a self-approval that bypasses the page's missing button."""

import html
import re

import pytest
from playwright.sync_api import expect

from registry import services
from registry.models import ModelVersion, PromotionRequest
from tests.conftest import staged_version

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MODEL = "churn-predictor"
SCREENSHOT = "/tmp/ui-promotion.png"


def test_request_then_approve_reaches_production(page, login, logout, contributor, approver, registered_model):
    mv = staged_version(contributor)

    # The contributor asks for Production from the version page.
    login(contributor)
    page.get_by_role("link", name=MODEL).click()
    page.wait_for_url(f"**/models/{MODEL}/")
    expect(page.locator("#production-version")).to_have_text("none")
    page.locator(".page-head a.stage-staging", has_text=f"v{mv.version}").click()
    page.wait_for_url(f"**/models/{MODEL}/versions/{mv.version}/")
    expect(page.locator("#version-stage")).to_have_text("Staging")
    page.fill("#request-reason", "AUC up 3 points on the holdout set.")
    with page.expect_navigation():
        page.get_by_role("button", name="Request promotion").click()
    page.wait_for_url(re.compile(r"/promotions/\d+/$"))
    expect(page.locator(".messages")).to_contain_text("filed")
    expect(page.locator("#promotion-status")).to_have_text("pending")
    expect(page.locator("#approve-form")).to_have_count(0)
    request_id = PromotionRequest.objects.get(version=mv).pk
    logout()

    # The approver finds it in the inbox and approves it.
    login(approver)
    page.get_by_role("link", name="Approvals").first.click()
    page.wait_for_url("**/approvals/")
    inbox = page.locator("#inbox")
    expect(inbox).to_contain_text(MODEL)
    expect(inbox).to_contain_text(contributor.username)
    inbox.get_by_role("link", name=f"#{request_id}").click()
    page.wait_for_url(f"**/promotions/{request_id}/")
    expect(page.locator(".gate")).to_contain_text("Serving schema present and valid")
    expect(page.locator("#approval-count")).to_have_text("0 of 1")
    page.fill("#approve-comment", "Gate is green, metrics hold up.")
    with page.expect_navigation():
        page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"**/promotions/{request_id}/")
    expect(page.locator(".messages")).to_contain_text("is now in Production")
    expect(page.locator("#promotion-status")).to_have_text("approved")
    expect(page.locator("#decisions")).to_contain_text("Gate is green, metrics hold up.")
    page.screenshot(path=SCREENSHOT, full_page=True)

    # The model page says so, and so does the database.
    page.get_by_role("link", name=MODEL).first.click()
    page.wait_for_url(f"**/models/{MODEL}/")
    expect(page.locator("#production-version")).to_have_text(f"v{mv.version}")
    expect(page.locator("#timeline")).to_contain_text("Production")
    expect(page.locator("#timeline")).to_contain_text(f"#{request_id}")
    mv.refresh_from_db()
    assert mv.stage == "production"


@pytest.mark.parametrize(
    ("requester_fixture", "refusal"),
    [
        ("contributor", "Your role (contributor) cannot approve or reject promotion requests; approvers and admins can."),
        ("admin", "someone else must approve it"),
    ],
)
def test_requester_cannot_approve_own_request(page, login, request, registered_model, requester_fixture, refusal):
    requester = request.getfixturevalue(requester_fixture)
    mv = staged_version(requester)
    promotion = services.promotion_request(actor=requester, model_name=MODEL, version=mv.version, reason="mine")

    login(requester)
    page.goto(f"/promotions/{promotion.pk}/")
    expect(page.locator("#promotion-status")).to_have_text("pending")
    expect(page.locator("#approve-form")).to_have_count(0)
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Reject")).to_have_count(0)
    expect(page.locator("#cancel-form")).to_have_count(1)

    # Forge the approve form the page did not offer, with the page's own CSRF token.
    with page.expect_navigation() as navigation:
        page.evaluate(
            """(id) => {
                const form = document.createElement('form');
                form.method = 'post';
                form.action = `/promotions/${id}/approve/`;
                for (const [name, value] of [
                    ['csrfmiddlewaretoken', document.querySelector('input[name=csrfmiddlewaretoken]').value],
                    ['comment', 'approving my own work'],
                ]) {
                    const input = document.createElement('input');
                    input.type = 'hidden'; input.name = name; input.value = value;
                    form.appendChild(input);
                }
                document.body.appendChild(form);
                form.submit();
            }""",
            promotion.pk,
        )
    assert navigation.value.status == 403
    expect(page.locator(".messages .error")).to_contain_text(refusal)
    expect(page.locator("#promotion-status")).to_have_text("pending")

    # The same through a raw request carrying the csrftoken cookie and header.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        f"/promotions/{promotion.pk}/approve/",
        form={"comment": "again"},
        headers={"X-CSRFToken": csrf, "Referer": page.url},
    )
    assert response.status == 403
    assert refusal in html.unescape(response.text())

    mv.refresh_from_db()
    assert mv.stage == "staging"
    assert not ModelVersion.objects.filter(model__name=MODEL, stage="production").exists()
    promotion.refresh_from_db()
    assert promotion.status == "pending" and not promotion.decisions.exists()
