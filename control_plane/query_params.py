"""Query parameters read the same way by every API view: a bad value is a 422 naming it."""

from django.utils.dateparse import parse_datetime

from .errors import Invalid


def time_param(params, name: str):
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = parse_datetime(raw.replace(" ", "+"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise Invalid(f"'{name}' must be an ISO 8601 time with a timezone, e.g. 2026-01-31T12:00:00Z.",
                      details={name: ["Invalid datetime."]})
    return value


def bool_param(params, name: str) -> bool | None:
    raw = params.get(name, "").lower()
    if not raw:
        return None
    if raw not in ("true", "false", "1", "0"):
        raise Invalid(f"'{name}' must be true or false.", details={name: ["Must be true or false."]})
    return raw in ("true", "1")


def int_param(params, name: str) -> int | None:
    raw = params.get(name)
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise Invalid(f"'{name}' must be a positive integer.", details={name: ["Must be a positive integer."]})
    return int(raw)
