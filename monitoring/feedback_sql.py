"""Ground truth on PostgreSQL: a batch of feedback is one UPDATE that finds, compares and
changes the rows, so each row is visited once.

What it costs (EXPLAIN ANALYZE on 10 M rows a day, docs/prediction-log-scale.md): one random
heap page per request id, plus an index leaf; the pages that are not in memory dominate. So:
- no SELECT ... FOR UPDATE before the UPDATE (that visits every row's page twice, and locking
  a row writes its page: a second full-page image in the WAL after each checkpoint);
- the rows are found with a bitmap scan of the unique index (request_id, model_name,
  variant, ts) of each day partition, so the heap pages are read in file order with
  `effective_io_concurrency` reads in flight, not one random read at a time; the bitmap is
  joined to the items by hashing them (a few thousand: never a whole partition). Concurrent
  batches lock their rows in that same file order;
- items that name their day (`served_on`) are updated per day, the day a constant of the
  statement, so only that day's partition is probed;
- rows whose ground truth is already the one sent are left alone (jsonb equality);
- the partitions keep room on every page (log_partitions.FILLFACTOR), so the new row version
  usually stays on its page: a HOT update, no index written.
"""

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from typing import TYPE_CHECKING

from django.db import connection

from .models import PredictionLog

if TYPE_CHECKING:
    from .services import FeedbackItem

BATCH = 10_000  # items per statement
PREFETCH = 64  # heap pages read ahead by a bitmap scan (effective_io_concurrency)
TABLE = PredictionLog._meta.db_table

_ITEMS = "unnest(%(ids)s::text[], %(truths)s::jsonb[], %(models)s::text[]) AS v(request_id, truth, model)"
_MATCH = (
    "t.request_id = ANY(%(ids)s::text[]) AND t.request_id = v.request_id {day}"
    "AND (v.model = '' OR t.model_name = v.model) AND (%(allowed)s::text[] IS NULL OR t.model_name = ANY(%(allowed)s))"
)
_DAY = "AND t.ts >= %(day_from)s AND t.ts < %(day_to)s "
UPDATE = (
    f"UPDATE {TABLE} AS t SET ground_truth = v.truth, ground_truth_at = %(now)s FROM {_ITEMS} "
    f"WHERE {_MATCH} AND t.ground_truth IS DISTINCT FROM v.truth RETURNING t.request_id"
)
FOUND = f"SELECT DISTINCT v.request_id FROM {_ITEMS} JOIN {TABLE} AS t ON {_MATCH}"
_PLAN = (
    "SET LOCAL enable_nestloop = off; SET LOCAL enable_mergejoin = off; SET LOCAL enable_indexscan = off; "
    f"SET LOCAL effective_io_concurrency = {PREFETCH}"
)
_PLAN_DEFAULT = (
    "SET LOCAL enable_nestloop TO DEFAULT; SET LOCAL enable_mergejoin TO DEFAULT; "
    "SET LOCAL enable_indexscan TO DEFAULT; SET LOCAL effective_io_concurrency TO DEFAULT"
)


def set_ground_truth(
    items: list["FeedbackItem"], now: datetime, allowed: frozenset[str] | None
) -> tuple[dict[str, int], set[str]]:
    """Answers {request id: rows changed} and, of the items that changed nothing, the request
    ids that have rows (their ground truth was already this one); the rest are unknown."""
    changed: Counter[str] = Counter()
    found: set[str] = set()
    by_day = sorted(items, key=lambda item: (item.served_on or date.min, item.request_id))
    with connection.cursor() as cursor:
        cursor.execute(_PLAN)
        for day, same_day in groupby(by_day, key=lambda item: item.served_on):
            group = list(same_day)
            for start in range(0, len(group), BATCH):
                chunk = group[start : start + BATCH]
                cursor.execute(_sql(UPDATE, day), _params(chunk, day, now, allowed))
                changed.update(request_id for (request_id,) in cursor.fetchall())
                rest = [item for item in chunk if item.request_id not in changed]
                if rest:
                    cursor.execute(_sql(FOUND, day), _params(rest, day, now, allowed))
                    found.update(request_id for (request_id,) in cursor.fetchall())
        cursor.execute(_PLAN_DEFAULT)
    return dict(changed), found


def _sql(template: str, day: date | None) -> str:
    return template.replace("{day}", _DAY if day else "")


def _params(items: list["FeedbackItem"], day: date | None, now: datetime, allowed: frozenset[str] | None) -> dict:
    params = {
        "ids": [item.request_id for item in items],
        "truths": [json.dumps(item.ground_truth, separators=(",", ":")) for item in items],
        "models": [item.model for item in items],
        "allowed": None if allowed is None else sorted(allowed),
        "now": now,
    }
    if day:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        params.update(day_from=start, day_to=start + timedelta(days=1))
    return params
