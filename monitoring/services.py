"""Writes to the prediction log other than the log itself: ground truth, retention."""

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from control_plane import roles, token_scope
from control_plane.errors import Forbidden

from . import log_partitions
from .models import PredictionLog

logger = logging.getLogger(__name__)

FEEDBACK_MAX_ITEMS = 10_000
_LOOKUP_CHUNK = 500  # request ids per IN (...) query


@dataclass(frozen=True)
class FeedbackItem:
    request_id: str
    ground_truth: object
    model: str = ""  # empty: every model's rows with this request id


@dataclass
class FeedbackResult:
    updated: int = 0  # items whose rows got a new ground truth
    unchanged: int = 0  # items whose rows already had exactly this ground truth
    rows_updated: int = 0  # rows changed (a champion and its shadow are two rows)
    unknown: list[str] = field(default_factory=list)  # request ids with no logged prediction


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def predictions_feedback(*, actor: User, items: list[FeedbackItem]) -> FeedbackResult:
    """Attach ground truth to logged predictions, every variant of each request. Idempotent:
    sending the same ground truth again changes nothing (not even ground_truth_at)."""
    if not roles.user_can(actor, roles.REGISTER):
        raise Forbidden(roles.not_allowed(roles.REGISTER, actor), code="permission_denied")
    result = FeedbackResult()
    now = timezone.now()
    with transaction.atomic():
        by_request: dict[str, list[tuple[tuple, str, object]]] = {}  # request id: [((id, ts), model, ground truth)]
        for pk, ts, request_id, model_name, truth in _rows_locked(sorted({item.request_id for item in items})):
            if not token_scope.model_allowed(model_name):  # a token limited to other models sees no such row
                continue
            by_request.setdefault(request_id, []).append(((pk, ts), model_name, truth))
        changes: list[tuple[tuple, str]] = []  # ((row id, ts), ground truth as JSON)
        for item in items:
            rows = [r for r in by_request.get(item.request_id, ()) if not item.model or r[1] == item.model]
            if not rows:
                result.unknown.append(item.request_id)
                continue
            wanted = _canonical(item.ground_truth)
            stale = [pk for pk, _, truth in rows if truth is None or _canonical(truth) != wanted]
            changes += [(pk, wanted) for pk in stale]
            result.updated += bool(stale)
            result.unchanged += not stale
        _set_ground_truth(changes, now)
        result.rows_updated = len(changes)
    return result


def _rows_locked(ids: list[str]):
    """(id, ts, request_id, model_name, ground_truth) of the rows of these request ids, locked.
    PostgreSQL: one query per 10,000 ids with an array (an IN list of that size costs more to
    plan than to run, once per day partition)."""
    if connection.vendor != "postgresql":
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            yield from (
                PredictionLog.objects.select_for_update()
                .filter(request_id__in=ids[start : start + _LOOKUP_CHUNK])
                .order_by("id")
                .values_list("id", "ts", "request_id", "model_name", "ground_truth")
            )
        return
    table = PredictionLog._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(ids), FEEDBACK_MAX_ITEMS):
            cursor.execute(
                f"SELECT id, ts, request_id, model_name, ground_truth FROM {table} "
                f"WHERE request_id = ANY(%s) ORDER BY id FOR UPDATE",
                [ids[start : start + FEEDBACK_MAX_ITEMS]],
            )
            for pk, ts, request_id, model_name, truth in cursor.fetchall():
                # Django reads jsonb as text (its JSONField decodes); a raw cursor decodes itself.
                yield pk, ts, request_id, model_name, None if truth is None else json.loads(truth)


def _set_ground_truth(changes: list[tuple[tuple, str]], now: datetime) -> None:
    """One UPDATE ... FROM unnest(...) per 10,000 rows on PostgreSQL (Django's bulk_update
    builds a CASE per row: seconds for 10,000), matched on (id, ts) and planned as a nested
    loop of primary-key probes, so each row is looked up in its own day partition only (a
    merge or hash join would read whole days); one UPDATE per distinct value elsewhere."""
    if connection.vendor == "postgresql":
        table = PredictionLog._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_mergejoin = off; SET LOCAL enable_hashjoin = off")
            for start in range(0, len(changes), FEEDBACK_MAX_ITEMS):
                chunk = changes[start : start + FEEDBACK_MAX_ITEMS]
                cursor.execute(
                    f"UPDATE {table} SET ground_truth = v.gt, ground_truth_at = %s "
                    f"FROM unnest(%s::bigint[], %s::timestamptz[], %s::jsonb[]) AS v(id, ts, gt) "
                    f"WHERE {table}.id = v.id AND {table}.ts = v.ts",
                    [now, [pk for (pk, _), _ in chunk], [ts for (_, ts), _ in chunk], [gt for _, gt in chunk]],
                )
            cursor.execute("SET LOCAL enable_mergejoin TO DEFAULT; SET LOCAL enable_hashjoin TO DEFAULT")
        return
    by_value: dict[str, list[int]] = {}
    for (pk, _), gt in changes:
        by_value.setdefault(gt, []).append(pk)
    for gt, pks in by_value.items():
        for start in range(0, len(pks), _LOOKUP_CHUNK):
            PredictionLog.objects.filter(pk__in=pks[start : start + _LOOKUP_CHUNK]).update(
                ground_truth=json.loads(gt), ground_truth_at=now
            )


class Purged(NamedTuple):
    rows: int  # rows deleted one by one (a plain table: SQLite)
    partitions: list[str]  # day partitions dropped whole (PostgreSQL), oldest first

    def __str__(self) -> str:
        if self.partitions:
            return f"Dropped {len(self.partitions)} day partition(s) of the prediction log ({', '.join(self.partitions)})."
        return f"Deleted {self.rows} prediction log row(s)."


def predictions_purge(*, older_than_days: int | None = None, batch_size: int = 10_000,
                      now: datetime | None = None) -> Purged:
    """Delete what was served more than `older_than_days` (default PREDICTION_RETENTION_DAYS)
    ago; 0 days keeps everything. On PostgreSQL the log is partitioned by UTC day and whole
    days go at once: a day is dropped when all of it is older than the cutoff (so up to a day
    more is kept). Elsewhere rows are deleted `batch_size` per transaction, so the table is
    never locked for long."""
    days = settings.PREDICTION_RETENTION_DAYS if older_than_days is None else older_than_days
    if days <= 0:
        return Purged(0, [])
    cutoff = (now or timezone.now()) - timedelta(days=days)
    if log_partitions.partitioned():
        dropped = log_partitions.drop_before(cutoff.astimezone(UTC).date())
        if dropped:
            logger.info("Prediction log: dropped the partitions %s (served before %s).", ", ".join(dropped),
                        cutoff.date().isoformat())
        return Purged(0, dropped)
    total = 0
    while True:
        oldest = PredictionLog.objects.filter(ts__lt=cutoff).order_by().values("id")[:batch_size]
        deleted, _ = PredictionLog.objects.filter(id__in=oldest).delete()
        total += deleted
        if deleted < batch_size:
            break
    if total:
        logger.info("Prediction log: purged %d row(s) served before %s.", total, cutoff.isoformat())
    return Purged(total, [])
