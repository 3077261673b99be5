"""Versions side by side (as MLflow's compare view): metrics, params and schema, with what
differs marked. Pure: takes plain version facts, returns rows for the page and its chart."""

from dataclasses import dataclass, field


@dataclass
class VersionFacts:
    version: int
    stage: str
    metrics: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    input_schema: list = field(default_factory=list)
    run_id: str = ""
    source: str = ""


def _numeric(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def metric_rows(versions: list[VersionFacts]) -> list[dict]:
    """One row per metric: each version's value, and which columns hold the highest."""
    names = sorted({k for v in versions for k in v.metrics})
    rows = []
    for name in names:
        values = [_numeric(v.metrics.get(name)) for v in versions]
        present = [x for x in values if x is not None]
        best = max(present) if present else None
        rows.append(
            {
                "name": name,
                "cells": [{"value": x, "best": x is not None and x == best and len(present) > 1} for x in values],
                "differs": len(set(present)) > 1 or len(present) != len(values),
            }
        )
    return rows


def param_rows(versions: list[VersionFacts]) -> list[dict]:
    names = sorted({k for v in versions for k in v.params})
    rows = []
    for name in names:
        values = [v.params.get(name) for v in versions]
        rows.append({"name": name, "cells": values, "differs": len({str(x) for x in values}) > 1})
    return rows


def _columns(v: VersionFacts) -> dict[str, str]:
    return {
        c.get("name"): f"{c.get('type', '?')}{'' if c.get('nullable', True) is False else ' (nullable)'}"
        for c in v.input_schema or []
        if isinstance(c, dict) and c.get("name")
    }


def schema_rows(versions: list[VersionFacts]) -> list[dict]:
    """One row per input feature: its type per version ('' where absent), marked when any
    version lacks it or types it differently."""
    columns = [_columns(v) for v in versions]
    names = sorted({n for c in columns for n in c})
    rows = []
    for name in names:
        cells = [c.get(name, "") for c in columns]
        rows.append({"name": name, "cells": cells, "differs": len(set(cells)) > 1})
    return rows


def chart(versions: list[VersionFacts], rows: list[dict]) -> dict:
    """Plotly grouped bars: one trace per version, one group per numeric metric."""
    metrics = [r["name"] for r in rows]
    return {
        "metrics": metrics,
        "traces": [
            {"name": f"v{v.version} ({v.stage})", "values": [r["cells"][i]["value"] for r in rows]}
            for i, v in enumerate(versions)
        ],
    }
