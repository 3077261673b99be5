"""API tokens: hashed at rest, shown once, expiring, revocable, read-only scoped;
and the two management commands scripts use to bootstrap."""

import hashlib
import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from control_plane.models import ApiToken, Event
from registry.models import RegisteredModel

TOKEN_RE = re.compile(r"^cpt_[0-9a-f]{12}_[A-Za-z0-9_\-]{40,}$")


def bearer_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def tables_containing(text: str) -> list[str]:
    """Every table in the database with a row whose text form contains `text`."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        for (table,) in cursor.fetchall():
            cursor.execute(f'SELECT count(*) FROM "{table}" AS t WHERE strpos(t::text, %s) > 0', [text])
            if cursor.fetchone()[0]:
                found.append(table)
    return found


def test_database_stores_only_the_sha256_of_the_token(api, contributor):
    r = api(contributor).post("/api/v1/tokens/", {"name": "ci"}, format="json")
    assert r.status_code == 201, r.json()
    secret = r.json()["token"]
    assert TOKEN_RE.match(secret)
    row = ApiToken.objects.get(pk=r.json()["id"])
    assert row.user == contributor and row.name == "ci"
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(f"cpt_{row.prefix}_")
    random_part = secret.split("_", 2)[2]
    # Neither the token nor its secret part is in any column of any table.
    assert tables_containing(random_part) == []
    assert tables_containing(row.secret_hash) == ["control_plane_apitoken"]  # the search itself works
    assert bearer_client(secret).get("/api/v1/models/").status_code == 200


def test_secret_is_returned_only_on_creation(api, contributor):
    client = api(contributor)
    created = client.post("/api/v1/tokens/", {"name": "deploy", "expires_days": 30}, format="json").json()
    secret = created["token"]

    listing = client.get("/api/v1/tokens/")
    detail = client.get(f"/api/v1/tokens/{created['id']}/")

    assert listing.status_code == 200 and detail.status_code == 200
    rows = listing.json()["results"]
    assert created["id"] in [t["id"] for t in rows]
    assert all("token" not in t and "secret_hash" not in t for t in rows)
    assert "token" not in detail.json() and detail.json()["prefix"] == created["prefix"]
    assert secret not in listing.content.decode() and secret not in detail.content.decode()
    assert secret.split("_", 2)[2] not in listing.content.decode()


def test_expired_token_gets_401(api, contributor):
    client = api(contributor)
    assert client.get("/api/v1/models/").status_code == 200
    ApiToken.objects.filter(user=contributor).update(expires_at=timezone.now() - timedelta(days=1))

    r = client.get("/api/v1/models/")

    assert r.status_code == 401
    assert r.json()["error"]["code"] == "not_authenticated"
    assert "expired" in r.json()["error"]["message"]
    r = client.post("/api/v1/models/", {"name": "after-expiry"}, format="json")
    assert r.status_code == 401
    assert not RegisteredModel.objects.filter(name="after-expiry").exists()


def test_revoked_token_gets_401(api, contributor):
    client = api(contributor)
    token = ApiToken.objects.get(user=contributor)
    assert client.get("/api/v1/models/").status_code == 200

    r = client.delete(f"/api/v1/tokens/{token.pk}/")

    assert r.status_code == 204
    token.refresh_from_db()
    assert token.revoked_at is not None and not token.is_active
    assert Event.objects.filter(type="token.revoked", actor=contributor, payload__token_id=token.pk).count() == 1
    r = client.get("/api/v1/models/")
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    assert client.post("/api/v1/models/", {"name": "after-revoke"}, format="json").status_code == 401
    assert not RegisteredModel.objects.filter(name="after-revoke").exists()


def test_nobody_else_can_revoke_my_token_but_an_admin_can(api, contributor, viewer, admin):
    api(contributor)
    token = ApiToken.objects.get(user=contributor)
    r = api(viewer).delete(f"/api/v1/tokens/{token.pk}/")
    assert r.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert api(admin).delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_read_only_token_reads_but_cannot_write(api, contributor):
    client = api(contributor, read_only=True)
    assert client.get("/api/v1/models/").status_code == 200
    events_before = Event.objects.count()

    r = client.post("/api/v1/models/", {"name": "ro-model"}, format="json")

    assert r.status_code == 403
    assert r.json()["error"]["code"] == "permission_denied" and "read-only" in r.json()["error"]["message"]
    assert not RegisteredModel.objects.filter(name="ro-model").exists()
    assert Event.objects.count() == events_before
    # A read-only token cannot mint itself a read-write one either.
    assert client.post("/api/v1/tokens/", {"name": "escalate"}, format="json").status_code == 403
    assert ApiToken.objects.filter(user=contributor).count() == 1


def test_last_used_at_is_set_on_use(api, contributor):
    client = api(contributor)
    token = ApiToken.objects.get(user=contributor)
    assert token.last_used_at is None
    assert client.get("/api/v1/models/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_at >= token.created_at


def test_create_api_token_command_prints_a_working_read_only_token(contributor):
    out = io.StringIO()
    call_command("create_api_token", contributor.username, "--read-only", "--expires-days", "7", stdout=out)
    lines = out.getvalue().strip().splitlines()
    secret = lines[-1]
    assert TOKEN_RE.match(secret), lines
    row = ApiToken.objects.get(user=contributor)
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.read_only and row.revoked_at is None
    assert timedelta(days=7) - timedelta(minutes=1) < row.expires_at - row.created_at <= timedelta(days=7)

    client = bearer_client(secret)
    assert client.get("/api/v1/models/").status_code == 200
    r = client.post("/api/v1/models/", {"name": "from-cli"}, format="json")
    assert r.status_code == 403
    assert not RegisteredModel.objects.filter(name="from-cli").exists()


def test_create_api_token_command_refuses_unknown_user(db):
    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody-here", stdout=io.StringIO())
    assert not ApiToken.objects.exists()


def test_create_user_command_creates_user_in_the_role_group(db):
    out = io.StringIO()
    call_command("create_user", "nina", "--role", "approver", "--password", "a-long-password-1", stdout=out)

    user = User.objects.get(username="nina")
    assert list(user.groups.values_list("name", flat=True)) == ["approver"]
    assert user.check_password("a-long-password-1")
    assert not user.is_superuser
    assert Event.objects.filter(type="user.created", payload__username="nina").count() == 1

    # Re-running with another role moves the user; no password given -> one is printed.
    out = io.StringIO()
    call_command("create_user", "nina", "--role", "admin", stdout=out)
    user.refresh_from_db()
    assert list(user.groups.values_list("name", flat=True)) == ["admin"] and user.is_superuser
    printed = out.getvalue().strip().splitlines()[-1]
    assert printed.startswith("password ") and user.check_password(printed.removeprefix("password "))

    with pytest.raises(CommandError):
        call_command("create_user", "mallory", "--role", "root", stdout=io.StringIO())
    assert not User.objects.filter(username="mallory").exists()
