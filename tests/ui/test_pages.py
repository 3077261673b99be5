"""The server-rendered pages, through Django's test client: access rules, escaping,
which forms each role sees, and that refused writes change nothing."""

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.urls import reverse

from control_plane.models import ApiToken, Event
from control_plane.tokens import token_create
from registry import services
from registry.models import ModelVersion, PromotionRequest
from tests.conftest import PASSWORD, promote, register_version, staged_version

MODEL = "churn-predictor"
XSS = "<script>alert(1)</script>"


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def world(contributor, approver, registered_model):
    """v1 in Production (approved), v2 Staging with a pending request, v3 registered."""
    v1 = promote(contributor, approver)
    v2 = staged_version(contributor)
    pending = services.promotion_request(actor=contributor, model_name=MODEL, version=v2.version, reason="better auc")
    v3 = register_version(contributor)
    closed = PromotionRequest.objects.get(version=v1)
    return {"v1": v1, "v2": v2, "v3": v3, "pending": pending, "closed": closed}


def _page_urls(world, token_pk=None):
    urls = [
        reverse("home"),
        reverse("model-detail", args=[MODEL]),
        reverse("version-detail", args=[MODEL, world["v1"].version]),
        reverse("version-detail", args=[MODEL, world["v2"].version]),
        reverse("version-detail", args=[MODEL, world["v3"].version]),
        reverse("inbox"),
        reverse("promotion-detail", args=[world["pending"].pk]),
        reverse("promotion-detail", args=[world["closed"].pk]),
        reverse("audit"),
        reverse("tokens"),
    ]
    return urls


# --- Access ---------------------------------------------------------------------------


def test_every_page_renders_for_a_viewer(client, viewer, world):
    assert client.login(username=viewer.username, password=PASSWORD)
    for url in _page_urls(world):
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert viewer.username in body  # the top bar names the user
        assert "viewer" in body  # and the role
        assert 'action="/accounts/logout/"' in body and 'method="post"' in body


def test_every_page_renders_for_each_role(client, admin, approver, contributor, world):
    for user in (admin, approver, contributor):
        client.force_login(user)
        for url in _page_urls(world):
            assert client.get(url).status_code == 200, (user.username, url)


def test_login_page_and_login_through_the_form(client, viewer):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in response.content
    response = client.post(reverse("login"), {"username": viewer.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert client.get(reverse("home")).status_code == 200


def test_anonymous_is_sent_to_login(client, world):
    for url in _page_urls(world):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next="), url


def test_anonymous_post_changes_nothing(client, world):
    v2 = world["v2"]
    response = client.post(reverse("promotion-approve", args=[world["pending"].pk]), {"comment": "x"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    v2.refresh_from_db()
    assert v2.stage == "staging"


def test_user_without_role_gets_403(client, world):
    User.objects.create_user("nobody", password=PASSWORD)
    assert client.login(username="nobody", password=PASSWORD)
    for url in _page_urls(world):
        response = client.get(url)
        assert response.status_code == 403, url
    response = client.post(reverse("version-stage", args=[MODEL, world["v3"].version]), {"stage": "staging"})
    assert response.status_code == 403
    assert ModelVersion.objects.get(pk=world["v3"].pk).stage == "none"


def test_logout_is_a_post(client, viewer):
    client.force_login(viewer)
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_unknown_model_version_and_request_are_404(client, viewer, world):
    client.force_login(viewer)
    assert client.get(reverse("model-detail", args=["nope"])).status_code == 404
    assert client.get(reverse("version-detail", args=[MODEL, 99])).status_code == 404
    assert client.get(reverse("promotion-detail", args=[999999])).status_code == 404


# --- Escaping -------------------------------------------------------------------------


def test_user_text_is_escaped(client, viewer, contributor, approver):
    services.model_create(actor=contributor, name="xss-model", description=XSS, tags={"owner": XSS})
    mv = register_version(contributor, "xss-model", description=XSS, tags={XSS: XSS}, params={"p": XSS})
    services.version_set_stage(actor=contributor, model_name="xss-model", version=mv.version, stage="staging", reason=XSS)
    request = services.promotion_request(actor=contributor, model_name="xss-model", version=mv.version, reason=XSS)
    client.force_login(viewer)
    pages = [
        reverse("home"),
        reverse("model-detail", args=["xss-model"]),
        reverse("version-detail", args=["xss-model", mv.version]),
        reverse("promotion-detail", args=[request.pk]),
        reverse("inbox"),
        reverse("audit"),
    ]
    for url in pages:
        body = client.get(url).content.decode()
        assert "<script>alert(1)" not in body, url
    for url in pages[1:4]:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(url).content.decode(), url


# --- Who sees which form --------------------------------------------------------------


def test_viewer_sees_no_write_forms(client, viewer, world):
    client.force_login(viewer)
    model_page = client.get(reverse("model-detail", args=[MODEL])).content.decode()
    assert 'id="rollback-form"' not in model_page
    promotion_page = client.get(reverse("promotion-detail", args=[world["pending"].pk])).content.decode()
    assert 'id="approve-form"' not in promotion_page
    assert 'id="reject-form"' not in promotion_page
    assert 'id="cancel-form"' not in promotion_page
    version_page = client.get(reverse("version-detail", args=[MODEL, world["v2"].version])).content.decode()
    assert 'id="stage-form"' not in version_page
    assert 'id="request-form"' not in version_page


def test_approver_sees_decision_and_rollback_forms(client, approver, world):
    client.force_login(approver)
    assert 'id="rollback-form"' in client.get(reverse("model-detail", args=[MODEL])).content.decode()
    page = client.get(reverse("promotion-detail", args=[world["pending"].pk])).content.decode()
    assert 'id="approve-form"' in page and 'id="reject-form"' in page
    assert 'id="cancel-form"' not in page  # not the requester


def test_contributor_sees_stage_and_request_forms(client, contributor, world):
    client.force_login(contributor)
    v3_page = client.get(reverse("version-detail", args=[MODEL, world["v3"].version])).content.decode()
    assert 'id="stage-form"' in v3_page and 'value="staging"' in v3_page
    assert 'id="request-form"' not in v3_page  # v3 is not in Staging
    # v2 already has a pending request: the page links to it instead of offering a second one
    v2_page = client.get(reverse("version-detail", args=[MODEL, world["v2"].version])).content.decode()
    assert 'id="request-form"' not in v2_page
    assert reverse("promotion-detail", args=[world["pending"].pk]) in v2_page
    own = client.get(reverse("promotion-detail", args=[world["pending"].pk])).content.decode()
    assert 'id="approve-form"' not in own and 'id="cancel-form"' in own


# --- Refused writes -------------------------------------------------------------------


def test_viewer_stage_change_is_refused(client, viewer, world):
    client.force_login(viewer)
    v3 = world["v3"]
    events_before = Event.objects.count()
    response = client.post(reverse("version-stage", args=[MODEL, v3.version]), {"stage": "staging", "reason": "x"})
    assert response.status_code == 403
    refusal = "Your role (viewer) cannot move versions between stages; contributors, approvers and admins can."
    assert any(refusal in m for m in _messages(response))
    assert refusal in response.content.decode()
    v3.refresh_from_db()
    assert v3.stage == "none"
    assert not v3.transitions.exists()
    assert Event.objects.count() == events_before


def test_viewer_rollback_and_approve_are_refused(client, viewer, world):
    client.force_login(viewer)
    response = client.post(reverse("model-rollback", args=[MODEL]), {"reason": "x"})
    assert response.status_code == 403
    response = client.post(reverse("promotion-approve", args=[world["pending"].pk]), {"comment": "x"})
    assert response.status_code == 403
    world["v2"].refresh_from_db()
    assert world["v2"].stage == "staging"
    assert ModelVersion.objects.get(model__name=MODEL, stage="production").pk == world["v1"].pk


def test_stage_change_to_production_is_refused_with_conflict(client, contributor, world):
    client.force_login(contributor)
    response = client.post(reverse("version-stage", args=[MODEL, world["v2"].version]), {"stage": "production"})
    assert response.status_code == 409
    assert "promotion request" in response.content.decode()
    world["v2"].refresh_from_db()
    assert world["v2"].stage == "staging"


def test_requester_cannot_approve_own_request(client, admin, registered_model):
    # An admin holds both request_promotion and decide_promotion: only the four-eyes rule stops them.
    mv = staged_version(admin)
    request = services.promotion_request(actor=admin, model_name=MODEL, version=mv.version)
    client.force_login(admin)
    page = client.get(reverse("promotion-detail", args=[request.pk])).content.decode()
    assert 'id="approve-form"' not in page and 'id="reject-form"' not in page
    assert 'id="cancel-form"' in page
    response = client.post(reverse("promotion-approve", args=[request.pk]), {"comment": "me"})
    assert response.status_code == 403
    assert any("someone else must approve" in m for m in _messages(response))
    assert "someone else must approve" in response.content.decode()
    mv.refresh_from_db()
    assert mv.stage == "staging"
    request.refresh_from_db()
    assert request.status == "pending" and not request.decisions.exists()


def test_contributor_requester_posting_approve_is_refused(client, contributor, world):
    client.force_login(contributor)
    response = client.post(reverse("promotion-approve", args=[world["pending"].pk]), {"comment": "me"})
    assert response.status_code == 403
    world["v2"].refresh_from_db()
    assert world["v2"].stage == "staging"


# --- Writes that work -----------------------------------------------------------------


def test_request_then_approve_through_the_pages(client, contributor, approver, registered_model):
    mv = staged_version(contributor)
    client.force_login(contributor)
    response = client.post(reverse("version-request-promotion", args=[MODEL, mv.version]), {"reason": "ship it"})
    request = PromotionRequest.objects.get(version=mv)
    assert response.status_code == 302 and response["Location"] == reverse("promotion-detail", args=[request.pk])
    client.force_login(approver)
    inbox = client.get(reverse("inbox")).content.decode()
    assert reverse("promotion-detail", args=[request.pk]) in inbox
    response = client.post(reverse("promotion-approve", args=[request.pk]), {"comment": "looks good"}, follow=True)
    assert response.status_code == 200
    assert "is now in Production" in response.content.decode()
    mv.refresh_from_db()
    assert mv.stage == "production"
    model_page = client.get(reverse("model-detail", args=[MODEL])).content.decode()
    assert "stage-production" in model_page


def test_gate_failure_needs_override_and_the_override_shows_in_red(client, contributor, approver, registered_model):
    mv = staged_version(contributor, schema=[])  # no input schema: the serving_schema check fails
    request = services.promotion_request(actor=contributor, model_name=MODEL, version=mv.version)
    client.force_login(approver)
    page = client.get(reverse("promotion-detail", args=[request.pk])).content.decode()
    assert 'name="override_reason"' in page
    assert "status-fail" in page
    response = client.post(reverse("promotion-approve", args=[request.pk]), {"comment": "ok"})
    assert response.status_code == 422
    assert "release gate fails" in response.content.decode()
    mv.refresh_from_db()
    assert mv.stage == "staging"
    response = client.post(
        reverse("promotion-approve", args=[request.pk]),
        {"comment": "ok", "override_reason": "Schema comes with the next MLflow export."},
        follow=True,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="override-block"' in body
    block = body.split('class="override-block"', 1)[1].split("</div>", 1)[0]
    assert "Gate overridden" in block
    assert "Schema comes with the next MLflow export." in block
    mv.refresh_from_db()
    assert mv.stage == "production"


def test_reject_needs_a_comment(client, approver, world):
    client.force_login(approver)
    url = reverse("promotion-reject", args=[world["pending"].pk])
    response = client.post(url, {"comment": "  "})
    assert response.status_code == 422
    world["pending"].refresh_from_db()
    assert world["pending"].status == "pending"
    response = client.post(url, {"comment": "metrics too weak"}, follow=True)
    assert response.status_code == 200
    world["pending"].refresh_from_db()
    assert world["pending"].status == "rejected"
    assert "metrics too weak" in response.content.decode()


def test_requester_can_cancel(client, contributor, world):
    client.force_login(contributor)
    response = client.post(reverse("promotion-cancel", args=[world["pending"].pk]), follow=True)
    assert response.status_code == 200
    world["pending"].refresh_from_db()
    assert world["pending"].status == "cancelled"


def test_rollback_through_the_page(client, contributor, approver, world):
    services.promotion_approve(actor=approver, request_id=world["pending"].pk, comment="ok")
    client.force_login(approver)
    response = client.post(reverse("model-rollback", args=[MODEL]), {"reason": ""})
    assert response.status_code == 422
    response = client.post(reverse("model-rollback", args=[MODEL]), {"reason": "v2 misbehaves", "to_version": "1"})
    assert response.status_code == 302
    assert ModelVersion.objects.get(model__name=MODEL, stage="production").version == 1
    page = client.get(reverse("model-detail", args=[MODEL])).content.decode()
    assert "v2 misbehaves" in page and "rollback" in page


def test_stage_change_through_the_page(client, contributor, world):
    client.force_login(contributor)
    response = client.post(reverse("version-stage", args=[MODEL, world["v3"].version]), {"stage": "staging"})
    assert response.status_code == 302
    world["v3"].refresh_from_db()
    assert world["v3"].stage == "staging"


# --- Audit trail ----------------------------------------------------------------------


def test_audit_filters_and_pagination(client, viewer, world):
    client.force_login(viewer)
    response = client.get(reverse("audit"), {"type": "promotion.requested"})
    assert response.status_code == 200
    page = response.context["page"]
    assert page.paginator.count == 2
    assert all(e.type == "promotion.requested" for e in page.object_list)
    response = client.get(reverse("audit"), {"model": MODEL, "actor": "alice-approver"})
    assert {e.actor_name for e in response.context["page"].object_list} == {"alice-approver"}
    # newest first
    ids = [e.id for e in client.get(reverse("audit")).context["page"].object_list]
    assert ids == sorted(ids, reverse=True)
    response = client.get(reverse("audit"), {"since": "yesterday"})
    assert response.status_code == 422
    assert "ISO 8601" in response.content.decode()
    response = client.get(reverse("audit"), {"since": "2000-01-01T00:00:00Z"})
    assert response.status_code == 200 and response.context["page"].paginator.count == Event.objects.count()


def test_audit_pages_by_fifty(client, admin):
    for i in range(55):
        token_create(actor=admin, owner=admin, name=f"t{i}")
    client.force_login(admin)
    first = client.get(reverse("audit"), {"type": "token.created"})
    assert len(first.context["page"].object_list) == 50
    assert "page=2" in first.content.decode()
    second = client.get(reverse("audit"), {"type": "token.created", "page": 2})
    assert len(second.context["page"].object_list) == 5


# --- Tokens ---------------------------------------------------------------------------


def test_token_secret_is_shown_once_and_a_reload_creates_nothing(client, contributor):
    """Post/Redirect/Get: the POST answers a redirect, the next GET shows the secret once,
    and reloading that page (a GET) neither shows it again nor creates a second token."""
    client.force_login(contributor)
    response = client.post(reverse("tokens"), {"name": "ci", "read_only": "on", "expires_days": "30"})
    assert response.status_code == 302 and response["Location"] == reverse("tokens")
    token = ApiToken.objects.get(user=contributor, name="ci")
    assert token.read_only and token.expires_at is not None
    shown = client.get(reverse("tokens"))
    secret = shown.context["issued"]["secret"]
    body = shown.content.decode()
    assert secret in body and "will not be shown again" in body and secret.startswith("cpt_")
    again = client.get(reverse("tokens")).content.decode()
    assert secret not in again and token.prefix in again
    assert ApiToken.objects.filter(user=contributor).count() == 1


def test_token_create_errors_are_shown(client, contributor):
    client.force_login(contributor)
    response = client.post(reverse("tokens"), {"name": "  ", "expires_days": ""})
    assert response.status_code == 422
    assert "needs a name" in response.content.decode()
    response = client.post(reverse("tokens"), {"name": "x", "expires_days": "soon"})
    assert response.status_code == 422
    assert not ApiToken.objects.filter(user=contributor).exists()


def test_token_revoke_and_visibility(client, contributor, viewer, admin):
    mine = token_create(actor=contributor, owner=contributor, name="mine").token
    other = token_create(actor=viewer, owner=viewer, name="viewers").token
    client.force_login(contributor)
    page = client.get(reverse("tokens")).content.decode()
    assert mine.prefix in page and other.prefix not in page
    response = client.post(reverse("token-revoke", args=[other.pk]))
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None
    response = client.post(reverse("token-revoke", args=[mine.pk]))
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.revoked_at is not None
    client.force_login(admin)
    page = client.get(reverse("tokens")).content.decode()
    assert mine.prefix in page and other.prefix in page
    assert client.get(reverse("token-revoke", args=[other.pk])).status_code == 405


def test_home_shows_production_staging_and_inbox_count(client, approver, world):
    client.force_login(approver)
    response = client.get(reverse("home"))
    assert response.context["inbox_count"] == 1
    body = response.content.decode()
    assert reverse("version-detail", args=[MODEL, world["v1"].version]) in body
    assert reverse("version-detail", args=[MODEL, world["v2"].version]) in body
    assert reverse("inbox") in body


def test_token_expiry_out_of_range_is_refused(client, contributor):
    client.force_login(contributor)
    for days in ("0", "3651", "5000000"):
        response = client.post(reverse("tokens"), {"name": "x", "expires_days": days})
        assert response.status_code == 422, days
    assert not ApiToken.objects.filter(user=contributor).exists()


def test_aliases_show_on_model_and_version_pages(client, world, contributor, viewer):
    services.alias_set(actor=contributor, model_name=MODEL, alias="challenger", version=world["v2"].version)
    client.force_login(viewer)

    model_page = client.get(reverse("model-detail", args=[MODEL])).content.decode()
    v2_page = client.get(reverse("version-detail", args=[MODEL, world["v2"].version])).content.decode()
    v1_page = client.get(reverse("version-detail", args=[MODEL, world["v1"].version])).content.decode()

    assert "@challenger → v2" in model_page and "@champion → v1" in model_page
    assert "@challenger" in v2_page
    assert "@champion" in v1_page and "@challenger" not in v1_page
