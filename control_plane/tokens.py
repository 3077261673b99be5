"""API tokens: `cpt_<prefix>_<secret>`. The prefix finds the row; only a SHA-256 of
the whole token is stored and compared in constant time."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from . import token_scope
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
    name: str,
    owner: User | None = None,
    read_only: bool = False,
    expires_days: int | None = None,
    models: list[str] | None = None,
    serve_only: bool = False,
) -> IssuedToken:
    """A token for `actor` itself: nobody mints a working token for someone else over
    the API or the pages (`token_create_from_shell` is the operator's way). Made
    through another token (`current_token()`), it is at most as broad as that one."""
    if owner is not None and owner != actor:
        refuse_for_another_user()
    spec = _TokenSpec.checked(name, read_only, expires_days, models, serve_only)
    parent = token_scope.current_token()
    if parent is not None:
        spec.require_within(parent)
    return _issue(owner=actor, created_by=actor, spec=spec, journal_actor=actor)


def token_create_from_shell(
    *,
    owner: User,
    name: str,
    read_only: bool = False,
    expires_days: int | None = None,
    models: list[str] | None = None,
    serve_only: bool = False,
) -> IssuedToken:
    """The `create_api_token` command: whoever has a shell on the server may issue a
    token for any user. No maker is recorded (the shell has no identity here); the
    journal says it came from the command."""
    spec = _TokenSpec.checked(name, read_only, expires_days, models, serve_only)
    return _issue(owner=owner, created_by=None, spec=spec, journal_actor=None, via="create_api_token command")


def refuse_for_another_user():
    raise Forbidden(
        "A token acts only for the person who made it: ask them to create their own "
        "(an operator with shell access can use `manage.py create_api_token`).",
        code="token_for_another_user",
    )


@dataclass(frozen=True)
class _TokenSpec:
    name: str
    read_only: bool
    expires_at: datetime | None
    models: list[str]
    serve_only: bool

    @classmethod
    def checked(cls, name, read_only, expires_days, models, serve_only) -> "_TokenSpec":
        name = (name or "").strip()
        if not name:
            raise Invalid("A token needs a name.", details={"name": ["This field is required."]})
        if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
            raise Invalid(
                f"expires_days must be between 1 and {MAX_EXPIRY_DAYS}.",
                details={"expires_days": [f"Must be 1 to {MAX_EXPIRY_DAYS}."]},
            )
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        return cls(name[:100], bool(read_only), expires_at, sorted(set(models or [])), bool(serve_only))

    def require_within(self, parent: ApiToken) -> None:
        """Refuse anything `parent` could not do itself, naming each field."""
        wider: dict[str, list[str]] = {}
        if parent.models_allowed and (not self.models or not set(self.models) <= set(parent.models_allowed)):
            wider["models"] = [f"Must name only models this token is limited to: {', '.join(parent.models_allowed)}."]
        if parent.read_only and not self.read_only:
            wider["read_only"] = ["This token is read-only; so must the new one be."]
        if parent.serve_only and not self.serve_only:
            wider["serve_only"] = ["This token is serve-only; so must the new one be."]
        if parent.expires_at is not None and (self.expires_at is None or self.expires_at > parent.expires_at):
            wider["expires_days"] = [f"Must expire by {parent.expires_at.isoformat()}, when this token does."]
        if wider:
            raise Forbidden(
                "A token can only create tokens at most as broad as itself.", code="token_wider_than_parent", details=wider
            )


def _issue(*, owner: User, created_by: User | None, spec: _TokenSpec, journal_actor: User | None, via: str = "api") -> IssuedToken:
    prefix = secrets.token_hex(6)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=owner,
            created_by=created_by,
            name=spec.name,
            prefix=prefix,
            secret_hash=_hash(raw),
            scope=TokenScope.READ if spec.read_only else TokenScope.WRITE,
            serve_only=spec.serve_only,
            models_allowed=spec.models,
            expires_at=spec.expires_at,
        )
        event_append(
            type="token.created",
            actor=journal_actor,
            payload={
                "token_id": token.id,
                "owner": owner.username,
                "name": token.name,
                "scope": token.scope,
                "models": token.models_allowed,
                "serve_only": token.serve_only,
                "via": via,
            },
        )
    return IssuedToken(token=token, secret=raw)


def token_within(token: ApiToken, limit: ApiToken) -> bool:
    """Whether `token` can do nothing that `limit` cannot (the tokens a limited token
    may see and revoke)."""
    if limit.models_allowed and (not token.models_allowed or not set(token.models_allowed) <= set(limit.models_allowed)):
        return False
    return True


def token_revoke(*, actor: User, token_id: int) -> ApiToken:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id).first()
        if token is None or (token.user_id != actor.id and not user_can(actor, MANAGE_USERS)):
            raise NotFound(f"Token {token_id} does not exist.")
        via = token_scope.current_token()
        if via is not None and not token_within(token, via):
            raise Forbidden(
                "This token is limited to some models; it may only revoke tokens limited to those models.",
                code="model_not_allowed",
            )
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
    if token.created_by_id is not None and token.created_by_id != token.user_id:
        raise TokenRejected("This token was made by another user for this one; such tokens no longer work.")
    if not token.user.is_active:
        raise TokenRejected("The token's user is inactive.")
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
