"""Checking pushed rows against a view: pure, no Django. Every problem names the row and
the field; a row is all or nothing."""

import math
from datetime import datetime, timezone

from .definitions import PUSH_CREATED_COLUMN, PUSH_EVENT_COLUMN


def parse_time(value) -> datetime:
    """An ISO 8601 text (naive means UTC) or a datetime -> an aware datetime; ValueError."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise ValueError(f"must be an ISO 8601 time, got {type(value).__name__}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def typed_value(value, kind: str):
    """The value as the feature's type; ValueError naming what is wrong. None stays None."""
    if value is None:
        return None
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not value.is_integer()
        ):
            raise ValueError(f"must be an integer, got {value!r}")
        if not -(2**63) <= int(value) < 2**63:
            raise ValueError("is out of the 64-bit range")
        return int(value)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {value!r}")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {value!r}")
        return value
    if kind == "timestamp":
        try:
            return parse_time(value)
        except ValueError as exc:
            raise ValueError(f"is not an ISO 8601 time: {exc}") from None
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def check_rows(rows, keys, features, *, now: datetime) -> tuple[list[tuple], dict[str, list[str]]]:
    """[(key values, event time, created time, [feature values])] and the problems found
    ({"rows[3].age": [...]}) for a push's rows."""
    problems: dict[str, list[str]] = {}
    out = []
    allowed = {k for k, _ in keys} | {f for f, _ in features} | {PUSH_EVENT_COLUMN, PUSH_CREATED_COLUMN}
    for i, row in enumerate(rows):
        where = f"rows[{i}]"
        if not isinstance(row, dict):
            problems[where] = ["Must be an object."]
            continue
        before = len(problems)
        for name in sorted(set(row) - allowed):
            problems[f"{where}.{name}"] = ["Not a join key, a feature or a timestamp of this view."]
        key_values = []
        for name, kind in keys:
            value = row.get(name)
            if value is None:
                problems[f"{where}.{name}"] = ["The join key is required."]
                continue
            try:
                key_values.append(typed_value(value, kind))
            except ValueError as exc:
                problems[f"{where}.{name}"] = [str(exc)]
        times = []
        for name, default in ((PUSH_EVENT_COLUMN, None), (PUSH_CREATED_COLUMN, now)):
            value = row.get(name)
            if value is None:
                if default is None:
                    problems[f"{where}.{name}"] = ["This field is required."]
                times.append(default)
                continue
            try:
                times.append(parse_time(value))
            except (ValueError, OverflowError) as exc:
                problems[f"{where}.{name}"] = [f"is not an ISO 8601 time: {exc}"]
        values = []
        for name, kind in features:
            try:
                values.append(typed_value(row.get(name), kind))
            except (ValueError, OverflowError) as exc:
                problems[f"{where}.{name}"] = [str(exc)]
        if len(problems) == before:
            out.append((tuple(key_values), times[0], times[1], values))
    return out, problems
