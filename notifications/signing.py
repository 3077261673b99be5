"""Webhook signatures, the Standard Webhooks way (https://www.standardwebhooks.com).

Each request carries `webhook-id` (the delivery id, the same on every retry),
`webhook-timestamp` (Unix seconds of this attempt) and
`webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
The key is the secret's UTF-8 bytes, or, for a `whsec_<base64>` secret, the decoded
bytes, so the Standard Webhooks libraries verify our requests as they are.
"""

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

DEFAULT_TOLERANCE = 300  # seconds a receiver accepts between the timestamp and its clock


class SignatureError(ValueError):
    pass


def signing_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def _as_bytes(body: bytes | str) -> bytes:
    return body if isinstance(body, bytes) else body.encode()


def sign(*, secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The `webhook-signature` header value."""
    signed = f"{msg_id}.{timestamp}.".encode() + _as_bytes(body)
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(*, secret: str, msg_id: str, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body),
    }


def verify(
    *,
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless `headers` carry a valid, fresh signature of `body`.
    Pass the raw body bytes as received, before any JSON parsing."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, signatures = (lower.get(h, "") for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and stamp and signatures):
        raise SignatureError("Missing webhook-id, webhook-timestamp or webhook-signature header.")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureError("webhook-timestamp is not a whole number.") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError("webhook-timestamp is outside the tolerance; a replay or a skewed clock.")
    expected = sign(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body)
    # Several space-separated signatures are allowed (while a secret is rotated).
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures.split()):
        raise SignatureError("No signature matches.")
