"""API tokens: `cpt_<prefix>_<secret>`. The prefix finds the row; only a SHA-256 of
the whole token is stored and compared in constant time."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from .errors import Forbidden, Invalid, NotFound
from .journal import event_append
from .models import ApiToken, TokenScope
from .roles import MANAGE_USERS, user_can

TOKEN_PREFIX = "cpt_"
LAST_USED_RESOLUTION = timedelta(seconds=60)
MAX_EXPIRY_DAYS = 3650


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the whole bearer string, shown once


def token_create(
    *,
    actor: User,
    owner: User,
    name: str,
    read_only: bool = False,
    expires_days: int | None = None,
    models: list[str] | None = None,
    serve_only: bool = False,
) -> IssuedToken:
    if owner != actor and not user_can(actor, MANAGE_USERS):
        raise Forbidden("Only an admin can create tokens for another user.")
    name = (name or "").strip()
    if not name:
        raise Invalid("A token needs a name.", details={"name": ["This field is required."]})
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
        raise Invalid(
            f"expires_days must be between 1 and {MAX_EXPIRY_DAYS}.",
            details={"expires_days": [f"Must be 1 to {MAX_EXPIRY_DAYS}."]},
        )
    prefix = secrets.token_hex(6)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=owner,
            name=name[:100],
            prefix=prefix,
            secret_hash=_hash(raw),
            scope=TokenScope.READ if read_only else TokenScope.WRITE,
            serve_only=serve_only,
            models_allowed=sorted(set(models or [])),
            expires_at=expires_at,
        )
        event_append(
            type="token.created",
            actor=actor,
            payload={"token_id": token.id, "owner": owner.username, "name": token.name, "scope": token.scope},
        )
    return IssuedToken(token=token, secret=raw)


def token_revoke(*, actor: User, token_id: int) -> ApiToken:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id).first()
        if token is None or (token.user_id != actor.id and not user_can(actor, MANAGE_USERS)):
            raise NotFound(f"Token {token_id} does not exist.")
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            event_append(
                type="token.revoked",
                actor=actor,
                payload={"token_id": token.id, "owner": token.user.username, "name": token.name},
            )
    return token


class TokenRejected(Exception):
    pass


def token_authenticate(raw: str) -> ApiToken:
    """The active token for a bearer string, or TokenRejected saying why not."""
    if not raw.startswith(TOKEN_PREFIX) or raw.count("_") < 2:
        raise TokenRejected("Malformed API token.")
    prefix = raw[len(TOKEN_PREFIX) :].split("_", 1)[0]
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.secret_hash, _hash(raw)):
        raise TokenRejected("Invalid API token.")
    if token.revoked_at is not None:
        raise TokenRejected("API token has been revoked.")
    if token.is_expired:
        raise TokenRejected("API token has expired.")
    if not token.user.is_active:
        raise TokenRejected("The token's user is inactive.")
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
