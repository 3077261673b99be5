"""Issue 11, item 1: a token acts only for the person who made it."""

import io
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from control_plane.errors import Forbidden
from control_plane.models import ApiToken, Event
from control_plane.tokens import token_create
from registry import services
from registry.models import PromotionDecision
from tests.conftest import staged_version


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_an_admin_cannot_mint_a_token_for_someone_else(api, admin, approver):
    r = api(admin).post("/api/v1/tokens/", {"name": "x", "user": approver.username}, format="json")

    assert r.status_code == 403, r.json()
    assert r.json()["error"]["code"] == "token_for_another_user"
    assert not ApiToken.objects.filter(user=approver).exists()


def test_naming_oneself_as_user_is_allowed_and_records_the_maker(api, admin):
    r = api(admin).post("/api/v1/tokens/", {"name": "mine", "user": admin.username}, format="json")

    assert r.status_code == 201, r.json()
    assert ApiToken.objects.get(pk=r.json()["id"]).created_by == admin


def test_the_token_page_issues_tokens_only_to_the_signed_in_user(client, admin, approver):
    client.force_login(admin)
    client.post("/tokens/", {"name": "page", "user": approver.username})

    assert not ApiToken.objects.filter(user=approver).exists()
    assert ApiToken.objects.get(name="page").user == admin


def test_a_token_minted_for_another_user_before_the_fix_no_longer_works(admin, approver):
    legacy = token_create(actor=approver, name="legacy")  # approver's own ...
    ApiToken.objects.filter(pk=legacy.token.pk).update(created_by=admin)  # ... as if an admin had minted it

    r = bearer(legacy.secret).get("/api/v1/models/")

    assert r.status_code == 401
    assert "another user" in r.json()["error"]["message"]


def test_the_shell_command_may_mint_for_a_user_and_journals_it(approver):
    out = io.StringIO()
    call_command("create_api_token", approver.username, "--name", "ops", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]

    token = ApiToken.objects.get(name="ops")
    assert token.user == approver and token.created_by is None
    assert bearer(secret).get("/api/v1/models/").status_code == 200
    event = Event.objects.get(type="token.created", payload__token_id=token.pk)
    assert event.actor_name == "system" and event.payload["via"] == "create_api_token command"


def test_an_approval_through_a_token_the_requester_created_is_refused(registered_model, contributor, approver):
    """Four-eyes compares people: the approver, and the maker of the token used."""
    from control_plane.request_context import reset_current_request, set_current_request

    version = staged_version(contributor)
    request = services.promotion_request(actor=contributor, model_name="churn-predictor", version=version.version)
    made_by_requester = token_create(actor=approver, name="x").token
    ApiToken.objects.filter(pk=made_by_requester.pk).update(created_by=contributor)
    made_by_requester.refresh_from_db()

    context = set_current_request(SimpleNamespace(auth=made_by_requester))
    try:
        with pytest.raises(Forbidden) as refused:
            services.promotion_approve(actor=approver, request_id=request.pk, override_reason="test")
    finally:
        reset_current_request(context)

    assert refused.value.code == "self_approval_forbidden"
    assert not PromotionDecision.objects.exists()
