"""Ground truth on PostgreSQL: a batch of feedback is one UPDATE that finds, compares and
changes the rows, so each row is visited once.

Why not read the rows first (SELECT ... FOR UPDATE) and update them after: that visits every
row's page twice, and locking a row writes its page too (a second full-page image in the WAL
after each checkpoint). Here the UPDATE ... FROM unnest(...) is a nested loop over the items
(sorted by request id, so concurrent batches lock rows in the same order and cannot deadlock)
probing the unique index (request_id, model_name, variant, ts) of each day partition; an item
that names its day (`served_on`) has its probe pruned to that one partition at run time.
Rows whose ground truth is already the one sent are left alone (jsonb equality). The
partitions keep room on every page (log_partitions.FILLFACTOR), so the new row version
usually stays on its page: a HOT update, no index written.

What is left is one index leaf and one heap page per request id, at random: on 10 M rows a
day that is reading pages from outside shared_buffers (docs/prediction-log-scale.md). A
bitmap scan with prefetching (pages in file order, reads in flight) measured no better here.
"""

import json
from collections import Counter
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.db import connection

from .models import PredictionLog

if TYPE_CHECKING:
    from .services import FeedbackItem

BATCH = 10_000  # items per statement
TABLE = PredictionLog._meta.db_table

# v: the items. ts_from / ts_to: the item's day, or (-infinity, infinity) when it names none.
_ITEMS = (
    "unnest(%(ids)s::text[], %(truths)s::jsonb[], %(models)s::text[], %(ts_from)s::timestamptz[], "
    "%(ts_to)s::timestamptz[]) AS v(request_id, truth, model, ts_from, ts_to)"
)
_MATCH = (
    "t.request_id = v.request_id AND t.ts >= v.ts_from AND t.ts < v.ts_to "
    "AND (v.model = '' OR t.model_name = v.model) AND (%(allowed)s::text[] IS NULL OR t.model_name = ANY(%(allowed)s))"
)
UPDATE = (
    f"UPDATE {TABLE} AS t SET ground_truth = v.truth, ground_truth_at = %(now)s FROM {_ITEMS} "
    f"WHERE {_MATCH} AND t.ground_truth IS DISTINCT FROM v.truth RETURNING t.request_id"
)
FOUND = f"SELECT DISTINCT v.request_id FROM {_ITEMS} JOIN {TABLE} AS t ON {_MATCH}"


def set_ground_truth(
    items: list["FeedbackItem"], now: datetime, allowed: frozenset[str] | None
) -> tuple[dict[str, int], set[str]]:
    """Answers {request id: rows changed} and, of the items that changed nothing, the request
    ids that have rows (their ground truth was already this one); the rest are unknown."""
    ordered = sorted(items, key=lambda item: item.request_id)
    changed: Counter[str] = Counter()
    found: set[str] = set()
    with connection.cursor() as cursor:
        # A hash or merge join would read whole partitions; the items are few, the log is not.
        cursor.execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
        for start in range(0, len(ordered), BATCH):
            chunk = ordered[start : start + BATCH]
            params = _params(chunk, now, allowed)
            cursor.execute(UPDATE, params)
            changed.update(request_id for (request_id,) in cursor.fetchall())
            rest = [item for item in chunk if item.request_id not in changed]
            if rest:
                cursor.execute(FOUND, _params(rest, now, allowed))
                found.update(request_id for (request_id,) in cursor.fetchall())
        cursor.execute("SET LOCAL enable_hashjoin TO DEFAULT; SET LOCAL enable_mergejoin TO DEFAULT")
    return dict(changed), found


def _params(items: list["FeedbackItem"], now: datetime, allowed: frozenset[str] | None) -> dict:
    days = [item.served_on for item in items]
    return {
        "ids": [item.request_id for item in items],
        "truths": [json.dumps(item.ground_truth, separators=(",", ":")) for item in items],
        "models": [item.model for item in items],
        # as text: a list mixes days and infinities
        "ts_from": ["-infinity" if day is None else f"{day.isoformat()} 00:00+00" for day in days],
        "ts_to": ["infinity" if day is None or day == date.max else f"{day + timedelta(days=1)} 00:00+00" for day in days],
        "allowed": None if allowed is None else sorted(allowed),
        "now": now,
    }
