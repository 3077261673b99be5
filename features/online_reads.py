"""Online reads for the API, the in-process client and serving: entity rows checked
against the join keys' types, then one Redis round trip (features.online.read)."""

from dataclasses import dataclass

from django.conf import settings

from control_plane.errors import Invalid

from . import online
from .resolve import Resolved

MAX_ENTITY_ROWS = 10_000


def store():
    if not settings.FEATURE_ONLINE_REDIS_URL:
        raise Invalid("The online store needs Redis: set REDIS_URL or FEATURE_ONLINE_REDIS_URL.", code="no_online_store")
    return online.client(settings.FEATURE_ONLINE_REDIS_URL)


def key_value(value, kind: str, where: str):
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise Invalid(f"{where} must be an integer, got {value!r}.", details={where: ["Must be an integer."]})
        return value
    if not isinstance(value, str):
        raise Invalid(f"{where} must be a string, got {value!r}.", details={where: ["Must be a string."]})
    return value


def entity_keys(resolved: Resolved, entity_rows: list, field: str = "entities") -> list[tuple]:
    """Per row, one tuple of key values per view (in resolved.views order)."""
    if not isinstance(entity_rows, list) or not entity_rows:
        raise Invalid(f"'{field}' must be a non-empty list of objects.", details={field: ["Non-empty list."]})
    if len(entity_rows) > MAX_ENTITY_ROWS:
        raise Invalid(f"At most {MAX_ENTITY_ROWS} entity rows.", details={field: ["Too many rows."]})
    out = []
    for i, row in enumerate(entity_rows):
        if not isinstance(row, dict):
            raise Invalid(f"{field}[{i}] must be an object of join key: value.", details={f"{field}[{i}]": ["Object."]})
        values = {}
        for name, kind in resolved.keys:
            if name not in row or row[name] is None:
                raise Invalid(f"{field}[{i}] lacks the join key '{name}'.", details={f"{field}[{i}].{name}": ["Missing."]})
            values[name] = key_value(row[name], kind, f"{field}[{i}].{name}")
        out.append(tuple(tuple(values[k] for k, _ in view.keys) for view in resolved.views))
    return out


@dataclass
class OnlineRow:
    values: dict
    statuses: dict
    event_timestamps: dict  # feature: epoch microseconds or None


def online_read(resolved: Resolved, entity_rows: list, *, now_us: int | None = None) -> list[OnlineRow]:
    keys = entity_keys(resolved, entity_rows)
    answers = online.read(store(), settings.FEATURE_ONLINE_PREFIX, list(resolved.views), keys, now_us=now_us)
    rows = []
    for answer in answers:
        rows.append(
            OnlineRow(
                values={n: answer[n][0] for n in resolved.feature_names},
                statuses={n: answer[n][1] for n in resolved.feature_names},
                event_timestamps={n: answer[n][2] for n in resolved.feature_names},
            )
        )
    return rows
