"""Bearer-token checks for the data plane, cached per process.

Authenticating costs two queries (the token with its user, then the user's roles),
about half of a one-row prediction. The answer is kept per token until the journal
moves (a revoked token, a changed role or user: every such change is an event, and the
routing table already watches the journal) or for at most MAX_AGE seconds, so a
revocation takes effect as fast as a routing change. Expiry is checked on every call.
"""

import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from control_plane.roles import READ, user_can
from control_plane.tokens import TokenRejected, token_authenticate

from .router import routing_table

MAX_AGE = 60.0


class AuthError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Grant:
    models_allowed: frozenset[str]
    expires_at: datetime | None
    may_serve: bool
    generation: int | None
    cached_at: float


_grants: dict[str, Grant] = {}
_lock = threading.Lock()


def _grant_for(raw: str, generation: int | None) -> Grant:
    try:
        token = token_authenticate(raw)
    except TokenRejected as rejected:
        raise AuthError(401, "not_authenticated", str(rejected)) from None
    return Grant(
        models_allowed=frozenset(token.models_allowed),
        expires_at=token.expires_at,
        may_serve=token.serve_only or user_can(token.user, READ),
        generation=generation,
        cached_at=time.monotonic(),
    )


def authorize(authorization_header: str, model_name: str) -> None:
    """Raise AuthError unless the bearer token may call this model."""
    if not authorization_header.lower().startswith("bearer "):
        raise AuthError(401, "not_authenticated", "Send 'Authorization: Bearer <token>'.")
    raw = authorization_header.split(None, 1)[1].strip()
    key = hashlib.sha256(raw.encode()).hexdigest()
    generation = routing_table.generation()
    grant = _grants.get(key)
    if grant is None or grant.generation != generation or time.monotonic() - grant.cached_at > MAX_AGE:
        grant = _grant_for(raw, generation)
        with _lock:
            _grants[key] = grant
    if grant.expires_at is not None and grant.expires_at <= timezone.now():
        raise AuthError(401, "not_authenticated", "API token has expired.")
    if grant.models_allowed and model_name not in grant.models_allowed:
        raise AuthError(403, "permission_denied", f"This token may not call model '{model_name}'.")
    if not grant.may_serve:
        raise AuthError(403, "permission_denied", "The token's user has no role.")


def clear() -> None:
    with _lock:
        _grants.clear()
