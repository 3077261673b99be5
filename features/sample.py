"""The view page's evidence: the newest event in the source and histograms of a recent
sample (the newest SAMPLE_ROWS rows). Reads run under the source guard; query sources
are not sampled (their cost is the author's query, not ours to run for a page view)."""

import duckdb
import numpy as np
import psycopg
from psycopg import sql

from . import file_sources
from .definitions import PUSH_EVENT_COLUMN
from .sources import ViewSource, connect, error_text, guard, relation, typed

SAMPLE_ROWS = 2000
BINS = 20
TOP_CATEGORIES = 20


def _event(source: ViewSource) -> sql.Identifier:
    return sql.Identifier("src", PUSH_EVENT_COLUMN if source.kind == "push" else source.event_column)


def histogram(values: list, kind: str) -> dict:
    """A pure kernel: {kind, x, y, nulls} for one feature's sample."""
    present = [v for v in values if v is not None]
    nulls = len(values) - len(present)
    if kind in ("int", "float") and present:
        counts, edges = np.histogram(np.asarray(present, dtype=float), bins=BINS)
        centres = ((edges[:-1] + edges[1:]) / 2).round(6).tolist()
        return {"kind": "numeric", "x": centres, "y": counts.tolist(), "nulls": nulls}
    if kind == "timestamp":
        present = [v.isoformat()[:13] for v in present]  # by hour
    categories, counts = np.unique(np.asarray([str(v) for v in present], dtype=object), return_counts=True) if present else ([], [])
    order = np.argsort(-np.asarray(counts))[:TOP_CATEGORIES] if len(present) else []
    return {"kind": "categorical", "x": [str(categories[i]) for i in order], "y": [int(counts[i]) for i in order],
            "nulls": nulls}


def view_evidence(source: ViewSource) -> dict:
    """{newest_event, sample_rows, histograms: {feature: histogram}, error}."""
    if source.kind == "query":
        return {"newest_event": None, "sample_rows": 0, "histograms": {}, "error": "Query sources are not sampled."}
    if source.kind == "file":
        return _file_evidence(source)
    columns = sql.SQL(", ").join([typed(f, t) for f, t in source.features])
    newest = sql.SQL("SELECT max({}) FROM {} WHERE %s").format(_event(source), relation(source))
    recent = sql.SQL("SELECT {} FROM {} WHERE %s ORDER BY {} DESC LIMIT %s").format(
        columns, relation(source), _event(source))
    try:
        with connect(source.connection) as conn, guard(conn, source):
            newest_event = conn.execute(newest, [True]).fetchone()[0]
            rows = conn.execute(recent, [True, SAMPLE_ROWS]).fetchall()
    except psycopg.Error as exc:
        return {"newest_event": None, "sample_rows": 0, "histograms": {}, "error": error_text(exc)}
    return _evidence(source, newest_event, rows)


def _file_evidence(source: ViewSource) -> dict:
    try:
        newest_event, rows = file_sources.sample(source, SAMPLE_ROWS)
    except duckdb.Error as exc:
        return {"newest_event": None, "sample_rows": 0, "histograms": {}, "error": str(exc).split("\n")[0]}
    return _evidence(source, newest_event, rows)


def _evidence(source: ViewSource, newest_event, rows: list) -> dict:
    histograms = {name: histogram([r[i] for r in rows], kind) for i, (name, kind) in enumerate(source.features)}
    return {"newest_event": newest_event, "sample_rows": len(rows), "histograms": histograms, "error": ""}
