"""Input and output schemas: a list of {name, type, nullable} with MLflow's column types."""

import re

SCHEMA_TYPES = ("boolean", "integer", "long", "float", "double", "string", "binary", "datetime")
_FEATURE_NAME = re.compile(r"^[^\x00-\x1f]{1,256}$")


def schema_problems(schema) -> list[str]:
    """Every problem with a schema, as sentences naming the column; empty when valid."""
    if not isinstance(schema, list):
        return ["the schema must be a list of {name, type, nullable} objects"]
    problems, seen = [], set()
    for i, column in enumerate(schema):
        if not isinstance(column, dict):
            problems.append(f"column {i} is not an object")
            continue
        name = column.get("name")
        if not isinstance(name, str) or not _FEATURE_NAME.match(name):
            problems.append(f"column {i} has no valid name")
        elif name in seen:
            problems.append(f"column '{name}' appears twice")
        else:
            seen.add(name)
        if column.get("type") not in SCHEMA_TYPES:
            problems.append(f"column {name or i} has type {column.get('type')!r}; use one of {', '.join(SCHEMA_TYPES)}")
        if "nullable" in column and not isinstance(column["nullable"], bool):
            problems.append(f"column {name or i}: nullable must be true or false")
        extra = set(column) - {"name", "type", "nullable"}
        if extra:
            problems.append(f"column {name or i} has unknown keys {sorted(extra)}")
    return problems


def schema_normalise(schema: list[dict]) -> list[dict]:
    return [{"name": c["name"], "type": c["type"], "nullable": bool(c.get("nullable", False))} for c in schema]


_PLACEHOLDER = {"double": 0.0, "float": 0.0, "integer": 0, "long": 0, "boolean": False, "string": "", "binary": ""}


def placeholder_row(schema: list[dict]) -> dict:
    """A row that satisfies the schema (zeros, empty strings, nulls where allowed): for
    warming a model up and for rollback drills."""
    return {c["name"]: (None if c.get("nullable") else _PLACEHOLDER.get(c["type"], "")) for c in schema}
