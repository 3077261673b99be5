"""A random sample of a window of the prediction log, at a cost that does not grow with the
window (PostgreSQL): TABLESAMPLE SYSTEM reads a random share of the window's pages, sized
from the planner's estimate of the window's rows, and the rows read are subsampled to the
limit in Python. SYSTEM picks whole pages (some twenty consecutive predictions each), so a
sample is clustered in time at that scale; a small window (or one the estimate misjudges) is
sampled exactly instead, with ORDER BY random(). Elsewhere (SQLite) always exactly.
"""

import json
import random

from django.db import connection
from django.db.models import QuerySet

from .models import PredictionLog

EXACT_BELOW = 50_000  # windows estimated smaller than this are sampled exactly (ORDER BY random())
OVERSAMPLE = 1.5  # read this many times the rows wanted, so the estimate's error rarely leaves too few
ATTEMPTS = 3

_FROM = f'FROM "{PredictionLog._meta.db_table}"'


def window_sample(queryset: QuerySet, limit: int, columns: tuple[str, ...]) -> list[tuple]:
    """Up to `limit` rows of `queryset` (a PredictionLog filter) at random, as `columns` tuples."""
    exact = queryset.order_by("?").values_list(*columns)[:limit]
    if connection.vendor != "postgresql" or limit <= 0:
        return list(exact)
    sql, params = queryset.order_by().values_list(*columns).query.sql_with_params()
    estimate = _estimated_rows(sql, params)
    if estimate < max(EXACT_BELOW, limit * 5):
        return list(exact)
    percent = 100 * limit * OVERSAMPLE / estimate
    for _ in range(ATTEMPTS):
        percent = min(percent, 100.0)
        rows = _sampled(sql, params, percent, columns)
        if len(rows) >= limit:
            return random.sample(rows, limit)
        if percent >= 100:
            return rows  # the whole window
        percent *= OVERSAMPLE * limit / max(len(rows), 1)
    return list(exact)


def _estimated_rows(sql: str, params) -> float:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


def _sampled(sql: str, params, percent: float, columns: tuple[str, ...]) -> list[tuple]:
    if _FROM not in sql:  # not the shape expected: no sampling rather than a wrong query
        raise ValueError("window_sample expects a query on the prediction log alone.")
    sampled = sql.replace(_FROM, f"{_FROM} TABLESAMPLE SYSTEM ({percent:.8f})", 1)
    with connection.cursor() as cursor:
        cursor.execute(sampled, params)
        rows = cursor.fetchall()
    # Django reads jsonb as text and decodes it in the field; a raw cursor has to do that itself.
    decode = [PredictionLog._meta.get_field(name).get_internal_type() == "JSONField" for name in columns]
    return [tuple(json.loads(v) if d and v is not None else v for d, v in zip(decode, row, strict=True)) for row in rows]
