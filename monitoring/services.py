"""Writes to the prediction log other than the log itself: ground truth, retention."""

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from control_plane import roles, token_scope
from control_plane.errors import Forbidden

from . import feedback_sql, log_partitions
from .models import PredictionLog

logger = logging.getLogger(__name__)

FEEDBACK_MAX_ITEMS = 10_000
_LOOKUP_CHUNK = 500  # request ids per IN (...) query


@dataclass(frozen=True)
class FeedbackItem:
    request_id: str
    ground_truth: object
    model: str = ""  # empty: every model's rows with this request id
    served_on: date | None = None  # the UTC day the prediction was served: only that day is searched


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
    sending the same ground truth again changes nothing (not even ground_truth_at). A token
    limited to some models sees no row of the others."""
    if not roles.user_can(actor, roles.REGISTER):
        raise Forbidden(roles.not_allowed(roles.REGISTER, actor), code="permission_denied")
    now = timezone.now()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            changed, found = feedback_sql.set_ground_truth(items, now, token_scope.allowed_models())
        else:
            changed, found = _set_ground_truth_by_rows(items, now)
    result = FeedbackResult(rows_updated=sum(changed.values()))
    for item in items:
        if changed.get(item.request_id):
            result.updated += 1
        elif item.request_id in found:
            result.unchanged += 1
        else:
            result.unknown.append(item.request_id)
    return result


def _set_ground_truth_by_rows(items: list[FeedbackItem], now: datetime) -> tuple[dict[str, int], set[str]]:
    """Elsewhere than PostgreSQL (SQLite: small logs): the rows read, compared and updated by
    Django. Answers {request id: rows changed} and the request ids that have rows."""
    ids = sorted({item.request_id for item in items})
    by_request: dict[str, list[tuple[int, str, object, datetime]]] = {}
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        for pk, request_id, model_name, truth, ts in (
            PredictionLog.objects.select_for_update()
            .filter(request_id__in=ids[start : start + _LOOKUP_CHUNK])
            .order_by("id")
            .values_list("id", "request_id", "model_name", "ground_truth", "ts")
        ):
            if token_scope.model_allowed(model_name):
                by_request.setdefault(request_id, []).append((pk, model_name, truth, ts))
    changed: dict[str, int] = {}
    found: set[str] = set()
    by_value: dict[str, list[int]] = {}  # ground truth as JSON: the ids of the rows to set to it
    for item in items:
        rows = [r for r in by_request.get(item.request_id, ()) if (not item.model or r[1] == item.model)
                and (not item.served_on or r[3].astimezone(UTC).date() == item.served_on)]
        if rows:
            found.add(item.request_id)
        wanted = _canonical(item.ground_truth)
        stale = [pk for pk, _, truth, _ in rows if truth is None or _canonical(truth) != wanted]
        if stale:
            by_value.setdefault(wanted, []).extend(stale)
            changed[item.request_id] = len(stale)
    for wanted, pks in by_value.items():
        for start in range(0, len(pks), _LOOKUP_CHUNK):
            PredictionLog.objects.filter(pk__in=pks[start : start + _LOOKUP_CHUNK]).update(
                ground_truth=json.loads(wanted), ground_truth_at=now
            )
    return changed, found


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
