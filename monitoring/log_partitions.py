"""The prediction log's day partitions (PostgreSQL; SQLite keeps one plain table).

On PostgreSQL the table is partitioned by RANGE (ts), one partition per UTC day, named
<table>_pYYYYMMDD (migration 0003). Partitions are created ahead by beat's task
(`ensure_ahead`) and on demand by the write path when a record's day has none
(`ensure_for_timestamps`); retention drops whole days (`drop_before`). There is no DEFAULT
partition: a row for a day without a partition is refused (and its day created), never
parked where a later CREATE ... PARTITION OF would have to scan it.

Uniqueness: PostgreSQL needs the partition key in every unique index, so the log's key is
(request_id, model_name, variant, ts). A record keeps the timestamp it was served with from
serving to the table, so a retried batch (the same records) still conflicts and is stored once.
"""

import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from django.db import IntegrityError, ProgrammingError, connection, transaction

from .models import PredictionLog

logger = logging.getLogger(__name__)

TABLE = PredictionLog._meta.db_table
AHEAD_DAYS = 7
# Room left on every page for the row's next version: ground truth arrives after the row is
# written, and an update that fits on the row's own page is HOT (no index is touched).
FILLFACTOR = 90
RETENTION_LOCK = 0x70726564  # pg advisory lock key held while retention drops partitions
_NAME = re.compile(rf"^{TABLE}_p(\d{{8}})$")


_partitioned: dict[str, bool] = {}  # database name: is the log partitioned there
_known: dict[str, set[date]] = {}  # database name: days known to have a partition


def _database() -> str:
    return str(connection.settings_dict["NAME"])


def partitioned() -> bool:
    """Whether the log is partitioned here (PostgreSQL after migration 0003); cached."""
    if connection.vendor != "postgresql":
        return False
    found = _partitioned.get(_database())
    if found is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
            row = cursor.fetchone()
        found = bool(row and row[0])
        if row:  # the table exists: the answer holds until a migration changes it
            _partitioned[_database()] = found
    return found


def partition_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def partitions() -> dict[date, str]:
    """{day: partition name} of the partitions that exist."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
            [TABLE],
        )
        names = [name for (name,) in cursor.fetchall()]
    found = {}
    for name in names:
        match = _NAME.match(name)
        if match:
            found[datetime.strptime(match[1], "%Y%m%d").date()] = name
    return found


def create_sql(day: date) -> str:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF {TABLE} "
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}') "
        f"WITH (fillfactor = {FILLFACTOR})"
    )


def ensure(days: Iterable[date], *, refresh: bool = False) -> list[date]:
    """Create the partitions of these days that are missing; answers the days created.
    Days seen before are trusted unless `refresh` (after the database said one is missing)."""
    if not partitioned():
        return []
    wanted = set(days)
    known = _known.setdefault(_database(), set())
    if not refresh and wanted <= known:
        return []
    existing = set(partitions())
    missing = sorted(wanted - existing)
    if missing:
        with connection.cursor() as cursor:
            for day in missing:
                try:
                    with transaction.atomic():
                        cursor.execute(create_sql(day))
                except (ProgrammingError, IntegrityError):  # another process created it meanwhile
                    if day not in partitions():
                        raise
        logger.info("Prediction log: created the partitions of %s.", ", ".join(map(str, missing)))
    # Learnt only once committed: a rolled-back transaction takes its new partitions with it.
    transaction.on_commit(lambda: known.update(existing, missing))
    return missing


def ensure_ahead(*, days: int = AHEAD_DAYS, today: date | None = None) -> list[date]:
    """Beat's task: yesterday's, today's and the next `days` days' partitions exist."""
    today = today or datetime.now(UTC).date()
    return ensure((today + timedelta(days=n) for n in range(-1, days + 1)), refresh=True)


def ensure_for_timestamps(timestamps: Iterable[object], *, refresh: bool = False) -> list[date]:
    """On demand: the partitions of the UTC days of these timestamps (ISO 8601 strings or
    datetimes; what cannot be read is skipped: the database refuses that record anyway)."""
    days = set()
    for value in timestamps:
        try:
            ts = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        except (TypeError, ValueError):
            continue
        days.add((ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC).date())
    return ensure(days, refresh=refresh) if days else []


def drop_before(day: date) -> list[str]:
    """Retention: drop the partitions of the days before `day`; answers their names.

    Outside a transaction each partition is first detached CONCURRENTLY: that takes only a
    SHARE UPDATE EXCLUSIVE lock on the log, so reads, the drain and feedback go on meanwhile;
    the DROP then locks the detached table alone. Inside a transaction (tests, a caller's
    atomic block) it is a plain DROP, which holds an exclusive lock on the log until commit.
    A detach left pending by an interrupted run is finished first. Two runs at once (beat and
    the command): the second finds the first's advisory lock and drops nothing."""
    if not partitioned():
        return []
    dropped = []
    known = _known.setdefault(_database(), set())
    concurrently = not connection.in_atomic_block
    with connection.cursor() as cursor:
        # held to the end of the run: the session's when detaching (each DETACH CONCURRENTLY
        # commits), else the transaction's (an error cannot leave it held)
        lock = "pg_try_advisory_lock" if concurrently else "pg_try_advisory_xact_lock"
        cursor.execute(f"SELECT {lock}(%s)", [RETENTION_LOCK])
        if not cursor.fetchone()[0]:
            return []
        try:
            pending = _detach_pending(cursor)
            for partition_day, name in sorted(partitions().items()):
                if partition_day < day:
                    if name in pending:
                        cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {name} FINALIZE")
                    elif concurrently:
                        cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {name} CONCURRENTLY")
                    cursor.execute(f"DROP TABLE {name}")
                    known.discard(partition_day)  # forgotten at once: a rollback only leaves a re-check
                    dropped.append(name)
        finally:
            if concurrently:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [RETENTION_LOCK])
    return dropped


def _detach_pending(cursor) -> set[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(%s) AND i.inhdetachpending",
        [TABLE],
    )
    return {name for (name,) in cursor.fetchall()}


def is_missing_partition(exc: Exception) -> bool:
    """The database refused a row because no partition holds its day."""
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == "23514" and "no partition" in str(cause)
