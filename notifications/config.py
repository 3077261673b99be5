"""Channel configuration per kind: what is accepted, and what may be shown back.

email:   {"addresses": ["a@example.com", ...]}
slack:   {"url": "https://hooks.slack.com/services/..."}   (the whole URL is a secret)
webhook: {"url": "https://...", "secret": "..."}           (the secret signs each request)
"""

import base64
import binascii
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from control_plane import egress
from control_plane.errors import Invalid
from registry.names import model_name_problem

from .models import ChannelKind

KEYS = {
    ChannelKind.EMAIL: {"addresses"},
    ChannelKind.SLACK: {"url"},
    ChannelKind.WEBHOOK: {"url", "secret"},
}
MAX_ADDRESSES = 50
MIN_SECRET = 16
EVENT_TYPE = re.compile(r"^[a-z_]+\.[a-z_]+$")


def _url_error(url) -> str | None:
    """The egress rule (control_plane.egress), and https:// unless NOTIFY_ALLOW_HTTP is set or
    the host is allow-listed: a Slack URL is a secret, and a webhook body is signed, not encrypted."""
    problem = egress.url_problem(url)
    if problem:
        return problem
    parts = urlsplit(url.strip())
    if parts.scheme.lower() == "https" or settings.NOTIFY_ALLOW_HTTP or egress.allow_listed(parts.hostname):
        return None
    return "Must be an https:// URL (http:// only to allow-listed hosts, or with NOTIFY_ALLOW_HTTP=true)."


def _secret_error(secret) -> str | None:
    if not isinstance(secret, str) or len(secret) < MIN_SECRET:
        return f"A secret of at least {MIN_SECRET} characters is required."
    if len(secret) > 256:
        return "Longer than 256 characters."
    if secret.startswith("whsec_"):
        try:
            base64.b64decode(secret[6:], validate=True)
        except (binascii.Error, ValueError):
            return "A whsec_ secret must be base64 after the prefix."
    return None


def _addresses_error(addresses) -> str | None:
    if not isinstance(addresses, list) or not addresses:
        return "A list of one or more email addresses is required."
    if len(addresses) > MAX_ADDRESSES:
        return f"At most {MAX_ADDRESSES} addresses."
    for address in addresses:
        try:
            validate_email(address)
        except (ValidationError, TypeError):
            return f"'{address}' is not an email address."
    return None


def config_clean(kind: str, given, previous: dict | None = None) -> dict:
    """The configuration to store: `given` over `previous` (so an update may leave a
    secret out to keep it), checked. Raises Invalid naming each bad field."""
    if not isinstance(given, dict):
        raise Invalid("'config' must be a JSON object.", details={"config": ["Expected an object."]})
    errors: dict[str, list[str]] = {}
    for key in sorted(set(given) - KEYS[kind]):
        errors[key] = [f"Unknown for a {kind} channel; expected {', '.join(sorted(KEYS[kind]))}."]
    merged = {k: v for k, v in {**(previous or {}), **given}.items() if k in KEYS[kind]}
    if kind == ChannelKind.EMAIL:
        if isinstance(merged.get("addresses"), list):
            merged["addresses"] = list(dict.fromkeys(str(a).strip() for a in merged["addresses"]))
        checks = {"addresses": _addresses_error(merged.get("addresses"))}
    elif kind == ChannelKind.SLACK:
        checks = {"url": _url_error(merged.get("url"))}
    else:
        checks = {"url": _url_error(merged.get("url")), "secret": _secret_error(merged.get("secret"))}
    errors |= {key: [message] for key, message in checks.items() if message}
    if errors:
        first = next(iter(errors))
        raise Invalid(f"Invalid channel config: {first}: {errors[first][0]}", details={"config": errors})
    return {k: v.strip() if isinstance(v, str) else v for k, v in merged.items()}


def subscriptions_clean(*, events, models) -> tuple[list[str], list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(events, list) or not all(isinstance(e, str) and EVENT_TYPE.match(e) for e in events):
        errors["events"] = ["A list of event types such as 'promotion.requested' (empty means every type)."]
    if not isinstance(models, list) or not all(isinstance(m, str) and not model_name_problem(m) for m in models):
        errors["models"] = ["A list of model names (empty means every model)."]
    if errors:
        first = next(iter(errors))
        raise Invalid(f"Invalid subscription: {first}: {errors[first][0]}", details=errors)
    return sorted(set(events)), sorted(set(models))


def _hint(value: str) -> str:
    return f"…{value[-4:]}" if len(value) >= 12 else "…"


def config_public(kind: str, config: dict) -> dict:
    """The configuration with every secret replaced by a hint that only helps to
    recognise it."""
    if kind == ChannelKind.EMAIL:
        return {"addresses": list(config.get("addresses", []))}
    url = str(config.get("url", ""))
    if kind == ChannelKind.SLACK:
        parts = urlsplit(url)
        return {"url_hint": f"{parts.scheme}://{parts.netloc}/{_hint(parts.path)}" if parts.netloc else ""}
    parts = urlsplit(url)
    if parts.password:  # credentials in the URL are secrets too
        url = parts._replace(netloc=f"…@{parts.hostname}" + (f":{parts.port}" if parts.port else "")).geturl()
    return {"url": url, "secret_hint": _hint(str(config.get("secret", "")))}
