"""Serving-schema validation of request rows against a version's input schema: a pure
kernel (no Django). Every problem is reported, naming the row and the field."""

import math
from datetime import datetime

import numpy as np

NUMERIC = {"double", "float"}
INTEGRAL = {"integer", "long"}


def _problem(value, column: dict) -> str | None:
    kind = column["type"]
    if value is None:
        return None if column.get("nullable") else "is null but the schema does not allow null"
    if kind in NUMERIC:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number ({kind}), got {type(value).__name__}"
        if not math.isfinite(value):
            return f"must be finite, got {value}"
        return None
    if kind in INTEGRAL:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be an integer ({kind}), got {type(value).__name__}"
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            return f"must be an integer ({kind}), got {value}"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else f"must be true or false, got {type(value).__name__}"
    if kind in ("string", "binary"):
        return None if isinstance(value, str) else f"must be a string, got {type(value).__name__}"
    if kind == "datetime":
        if not isinstance(value, str):
            return f"must be an ISO 8601 string, got {type(value).__name__}"
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return f"is not an ISO 8601 time: {value!r}"
        return None
    return f"has unknown schema type {kind!r}"


_NUMBER_TYPES = {int, float}


def _numeric_rows_valid(rows: list, schema: list[dict], allow_unknown: bool) -> bool:
    """The common case at array speed: a schema of numbers only, every row an object with
    exactly its fields (or more, when allowed), every value a finite int or float (integers
    where the schema says so). False means "look row by row", not "invalid"."""
    if not all(c["type"] in NUMERIC or c["type"] in INTEGRAL for c in schema):
        return False
    names = [c["name"] for c in schema]
    known = set(names)
    values = []
    for row in rows:
        if type(row) is not dict or not (known <= row.keys() if allow_unknown else row.keys() == known):
            return False
        values.append([row[name] for name in names])
    if not {type(v) for row in values for v in row} <= _NUMBER_TYPES:  # no bool, None, str...
        return False
    try:
        matrix = np.array(values, dtype=np.float64)
    except OverflowError:  # an integer beyond float64
        return False
    if not np.isfinite(matrix).all():
        return False
    integral = [i for i, c in enumerate(schema) if c["type"] in INTEGRAL]
    return not integral or bool((matrix[:, integral] == np.floor(matrix[:, integral])).all())


def validate_rows(rows: list, schema: list[dict], *, allow_unknown: bool = False) -> list[dict]:
    """[{row, field, problem}] for every problem; empty when every row is valid."""
    if len(rows) > 1 and _numeric_rows_valid(rows, schema, allow_unknown):
        return []
    problems = []
    names = [c["name"] for c in schema]
    known = set(names)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.append({"row": i, "field": None, "problem": "must be an object of feature: value"})
            continue
        for column in schema:
            if column["name"] not in row:
                problems.append({"row": i, "field": column["name"], "problem": "is missing"})
                continue
            found = _problem(row[column["name"]], column)
            if found:
                problems.append({"row": i, "field": column["name"], "problem": found})
        if not allow_unknown:
            for field in row:
                if field not in known:
                    problems.append({"row": i, "field": field, "problem": "is not a feature of this model"})
    return problems
