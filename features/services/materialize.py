"""Materialization: a view's rows from its source into the online store. Each run is a
row (window, progress, counts, heartbeat). Incremental runs cover (watermark, now];
backfills any window. Only the newest row per key in the window is read (DISTINCT ON),
in key order, and written with the newer-wins Lua script in pipelined batches; after
each batch the run's cursor (the last key written) and counts are committed, so a run
whose worker died resumes after its cursor (resume_stale_runs, on beat). Writing a key
twice is harmless: the script keeps the newer (event, created) pair."""

import logging
from collections.abc import Iterator
from contextlib import closing
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from psycopg import sql

from control_plane import roles
from control_plane.errors import Conflict, Forbidden, Invalid, NotFound
from control_plane.journal import event_append

from .. import file_sources, online
from ..definitions import PUSH_CREATED_COLUMN, PUSH_EVENT_COLUMN
from ..models import FeatureView, MaterializationRun
from ..online_reads import store
from ..sources import ViewSource, connect, guard, relation, typed, view_source

logger = logging.getLogger(__name__)
Run, Status = MaterializationRun, MaterializationRun.Status


def materialization_start(
    *, actor: User | None, view_name: str, kind: str, start: datetime | None = None, end: datetime | None = None
) -> MaterializationRun:
    """A queued run, its task enqueued after commit; 409 when the view has one running."""
    if actor is not None and not roles.user_can(actor, roles.REGISTER):
        raise Forbidden(f"Your role does not allow '{roles.REGISTER}'.", code="permission_denied")
    now = timezone.now()
    end = min(end or now, now)
    with transaction.atomic():
        view = FeatureView.objects.select_for_update().filter(name=view_name).first()
        if view is None:
            raise NotFound(f"No feature view '{view_name}'.", code="feature_view_not_found")
        if kind == Run.Kind.INCREMENTAL:
            start = view.watermark
        if start is not None and start >= end:
            raise Invalid("The window is empty: start must be before end (and before now).",
                          details={"start": ["Not before end."]})
        active = view.runs.filter(status__in=Run.ACTIVE).first()
        if active is not None:
            raise Conflict(f"Feature view '{view_name}' has run #{active.pk} {active.status}.",
                           code="materialization_running", details={"run": active.pk})
        try:
            with transaction.atomic():
                run = Run.objects.create(view=view, kind=kind, window_start=start, window_end=end, created_by=actor)
        except IntegrityError:
            raise Conflict(f"Feature view '{view_name}' already has a run in progress.", code="materialization_running") from None
        event_append(type="features.materialization.queued", actor=actor,
                     payload={"view": view.name, "run": run.pk, "kind": kind})
        transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    from ..tasks import materialize_run

    materialize_run.delay(run_id)


def _latest_rows(source: ViewSource, run: MaterializationRun) -> tuple[sql.Composed, list]:
    """The newest row per key in the window (after the run's cursor), in key order, with
    the number of such keys (the run's total) on every row. Values are turned into the
    online store's text after DISTINCT ON, for the newest rows only."""
    if source.kind == "push":
        event, created = sql.Identifier("src", PUSH_EVENT_COLUMN), sql.Identifier("src", PUSH_CREATED_COLUMN)
    else:
        event = sql.Identifier("src", source.event_column)
        created = sql.Identifier("src", source.created_column) if source.created_column else None
    keys = [sql.Identifier("src", k) for k, _ in source.keys]
    inner_columns = [sql.SQL("{} AS {}").format(typed(k, t), sql.Identifier(k)) for k, t in source.keys]
    inner_columns.append(sql.SQL("{} AS __ets").format(event))
    inner_columns.append(sql.SQL("{} AS __cts").format(created) if created is not None else sql.SQL("NULL::timestamptz AS __cts"))
    inner_columns += [sql.SQL("{} AS {}").format(typed(f, t), sql.Identifier(f)) for f, t in source.features]
    where, params = [sql.SQL("{} <= %s").format(event)], [run.window_end]
    if run.window_start is not None:
        where.append(sql.SQL("{} > %s").format(event))
        params.append(run.window_start)
    if run.cursor is not None:
        where.append(sql.SQL("({}) > ({})").format(sql.SQL(", ").join(keys), sql.SQL(", ").join(sql.Placeholder() * len(keys))))
        params += list(run.cursor)
    order = keys + [sql.SQL("{} DESC").format(event)]
    if created is not None:
        order.append(sql.SQL("{} DESC NULLS LAST").format(created))
    if source.kind == "push":
        order.append(sql.SQL("src.id DESC"))
    inner = sql.SQL("SELECT DISTINCT ON ({keys}) {columns} FROM {relation} WHERE {where} ORDER BY {order}").format(
        keys=sql.SQL(", ").join(keys), columns=sql.SQL(", ").join(inner_columns), relation=relation(source),
        where=sql.SQL(" AND ").join(where), order=sql.SQL(", ").join(order),
    )
    micros = "(EXTRACT(EPOCH FROM {}) * 1000000)::bigint"
    outer = [sql.Identifier("latest", k) for k, _ in source.keys]
    outer += [sql.SQL(micros).format(sql.Identifier("latest", "__ets")), sql.SQL(micros).format(sql.Identifier("latest", "__cts"))]
    outer += [_as_online_text(f, t) for f, t in source.features]
    return sql.SQL("SELECT {}, count(*) OVER () FROM ({}) latest ORDER BY {}").format(
        sql.SQL(", ").join(outer), inner, sql.SQL(", ").join(sql.Identifier("latest", k) for k, _ in source.keys)
    ), params


def _as_online_text(column: str, kind: str) -> sql.Composable:
    """The feature as the online store's text (read back by features.online.decode), made
    by the database: the run passes strings through instead of formatting each value. A
    double's text is PostgreSQL's shortest exact form (extra_float_digits 1, the default)."""
    value = sql.Identifier("latest", column)
    if kind == "bool":
        return sql.SQL("CASE WHEN {} THEN '1' WHEN NOT {} THEN '0' END").format(value, value)
    if kind == "timestamp":
        return sql.SQL("((EXTRACT(EPOCH FROM {}) * 1000000)::bigint)::text").format(value)
    return sql.SQL("{}::text").format(value)


def _newest_batches(source: ViewSource, run: MaterializationRun) -> Iterator[list]:
    """The rows of _latest_rows in batches, from the source's database, or from its files
    for a file source (DuckDB, the same row shape)."""
    size = settings.FEATURE_MATERIALIZE_BATCH
    if source.kind == "file":
        query, params = file_sources.latest_rows(source, run.window_start, run.window_end, run.cursor)
        with file_sources.connect() as conn:
            result = conn.execute(query, params)
            while rows := result.fetchmany(size):
                yield rows
        return
    query, params = _latest_rows(source, run)
    with connect(source.connection) as conn, guard(conn, source):
        cursor = conn.cursor(name="materialize", binary=True)
        cursor.execute(query, params)
        while rows := cursor.fetchmany(size):
            yield rows


def _claim(run_id: int) -> MaterializationRun | None:
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("view__entity").filter(pk=run_id).first()
        if run is None or run.status not in Run.ACTIVE:
            return None
        now = timezone.now()
        run.status, run.attempts, run.heartbeat_at = Status.RUNNING, run.attempts + 1, now
        run.started_at = run.started_at or now
        run.save(update_fields=["status", "attempts", "heartbeat_at", "started_at"])
        return run


def _commit_batch(run: MaterializationRun, pending: tuple, written: int) -> int:
    """Once Redis took a batch, commit its cursor and counts (so a resumed run skips it)."""
    future, cursor, size, total = pending
    future.result()
    written += size
    _progress(run, cursor, written, total)
    return written


def _progress(run: MaterializationRun, cursor: list, written: int, total: int) -> None:
    Run.objects.filter(pk=run.pk, status=Status.RUNNING).update(
        cursor=cursor, keys_written=written, keys_total=total, heartbeat_at=timezone.now()
    )


def materialization_execute(run_id: int) -> None:
    """Run (or resume) a run. Idempotent: a finished run is left alone."""
    run = _claim(run_id)
    if run is None:
        return
    view, source = run.view, view_source(run.view)
    key_count = len(source.keys)
    features = list(source.features)
    writer = online.Writer(store(), settings.FEATURE_ONLINE_PREFIX, view.name, features, view.ttl_seconds)
    written, total = run.keys_written, run.keys_total or 0
    try:
        with closing(_newest_batches(source, run)) as batches, ThreadPoolExecutor(1) as redis_thread:
            pending = None  # (future of the previous batch's Redis write, its cursor, its size, total)
            for rows in batches:
                for row in rows:
                    writer.add_encoded(row[:key_count], row[key_count], row[key_count + 1], row[key_count + 2 : -1])
                batch_total = run.keys_written + rows[0][-1] if run.cursor is not None else rows[0][-1]
                flushing = redis_thread.submit(writer.flush_batch())  # Redis writes while the next batch is read
                if pending is not None:
                    written = _commit_batch(run, pending, written)
                pending = (flushing, list(rows[-1][:key_count]), len(rows), batch_total)
                total = batch_total
            if pending is not None:
                written = _commit_batch(run, pending, written)
    except Exception as exc:
        logger.exception("Materialization run %s failed", run.pk)
        _finish(run, Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        return
    _finish(run, Status.SUCCEEDED, written=written, total=total)


def _finish(run: MaterializationRun, status: str, *, error: str = "", written=None, total=None) -> None:
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if locked.status != Status.RUNNING:
            return
        locked.status, locked.error, locked.finished_at = status, error, timezone.now()
        if written is not None:
            locked.keys_written, locked.keys_total = written, total
        locked.save(update_fields=["status", "error", "finished_at", "keys_written", "keys_total"])
        view = FeatureView.objects.select_for_update().get(pk=run.view_id)
        if status == Status.SUCCEEDED and (view.watermark is None or view.watermark < run.window_end):
            view.watermark = run.window_end
            view.save(update_fields=["watermark", "updated_at"])
        event_append(type=f"features.materialization.{status}", actor=None,
                     payload={"view": view.name, "run": run.pk, "keys_written": locked.keys_written, "error": error})


def resume_stale_runs(*, stale_seconds: int | None = None) -> list[int]:
    """Runs whose worker stopped beating (killed, lost) are enqueued again; they resume
    after their cursor. Queued runs whose message was lost are enqueued again too."""
    stale = timezone.now() - timedelta(seconds=stale_seconds if stale_seconds is not None else settings.FEATURE_RUN_STALE_SECONDS)
    ids = list(
        Run.objects.filter(status=Status.RUNNING, heartbeat_at__lt=stale).values_list("pk", flat=True)
    ) + list(Run.objects.filter(status=Status.QUEUED, created_at__lt=stale).values_list("pk", flat=True))
    for run_id in ids:
        _enqueue(run_id)
    return ids
