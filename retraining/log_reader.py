"""Read a window of the prediction log in chunks, as typed columns, in (ts, id) order from a
resume point. On PostgreSQL the features are pulled out of the JSON by the database and
streamed with COPY into Arrow (no Python object per value); elsewhere through the ORM."""

import io
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from django.db import connection

from monitoring.models import PredictionLog

VARIANTS = ("champion", "challenger", "batch", "stream")  # shadow answered nobody


@dataclass
class Window:
    model_name: str
    since: datetime
    until: datetime
    variants: tuple[str, ...] = VARIANTS
    labelled_only: bool = False


@dataclass
class Chunk:
    ids: np.ndarray
    ts: np.ndarray  # datetime64[us, UTC]
    columns: dict[str, pd.Series]
    ground_truth: pd.Series  # text, None when unlabelled
    last: tuple[datetime, int] | None


def _filters(window: Window, after: tuple[datetime, int] | None) -> tuple[str, list]:
    sql = "model_name = %s AND ts >= %s AND ts < %s AND variant = ANY(%s)"
    params: list = [window.model_name, window.since, window.until, list(window.variants)]
    if after is not None:
        # `ts >= last` lets the (model_name, ts) index start the scan at the resume point; the
        # row comparison alone would make every chunk scan and sort the whole window again.
        sql += " AND ts >= %s AND (ts, id) > (%s, %s)"
        params += [after[0], after[0], after[1]]
    if window.labelled_only:
        sql += " AND ground_truth IS NOT NULL AND ground_truth <> 'null'::jsonb"
    return sql, params


def count_rows(window: Window) -> int:
    qs = PredictionLog.objects.filter(
        model_name=window.model_name, ts__gte=window.since, ts__lt=window.until, variant__in=window.variants
    )
    if window.labelled_only:
        qs = qs.exclude(ground_truth=None)
    return qs.count()


def _parse(data: io.BytesIO, column_names: list[str], numeric: list[bool]) -> pa.Table:
    """CSV to Arrow: numeric schema columns straight to float64 (no string per value); when
    one holds text after all, everything is read as text and converted by the caller."""
    types = {"id": pa.int64(), "ts": pa.timestamp("us", tz="UTC"), "gt": pa.string()}
    for i, is_number in enumerate(numeric):
        types[f"f{i}"] = pa.float64() if is_number else pa.string()
    options = dict(read_options=pacsv.ReadOptions(column_names=column_names))
    try:
        return pacsv.read_csv(data, convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True), **options)
    except pa.ArrowInvalid:
        data.seek(0)
        types.update({f"f{i}": pa.string() for i in range(len(numeric))})
        return pacsv.read_csv(data, convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True), **options)


def _postgres_chunk(window: Window, names: list[str], after, limit: int, numeric: list[bool]) -> Chunk:
    where, params = _filters(window, after)
    features = ", ".join("features->>%s" for _ in names)
    table = PredictionLog._meta.db_table
    query = (
        f"COPY (SELECT id, ts, ground_truth #>> '{{}}'{', ' if names else ''}{features} FROM {table} "
        f"WHERE {where} ORDER BY ts, id LIMIT %s) TO STDOUT (FORMAT csv)"
    )
    buffer = io.BytesIO()
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        with cursor.copy(query, [*names, *params, limit]) as copy:
            for block in copy:
                buffer.write(block)
    column_names = ["id", "ts", "gt", *[f"f{i}" for i in range(len(names))]]
    if buffer.tell() == 0:
        return Chunk(np.array([], dtype=np.int64), np.array([], dtype="datetime64[us]"), {n: pd.Series([], dtype=object) for n in names}, pd.Series([], dtype=object), None)
    buffer.seek(0)
    table_ = _parse(buffer, column_names, numeric)
    ids = table_.column("id").to_numpy()
    ts = table_.column("ts").to_pandas()
    columns = {}
    for i, name in enumerate(names):
        col = table_.column(f"f{i}")
        if pa.types.is_floating(col.type):
            columns[name] = pd.Series(col.to_numpy(zero_copy_only=False))
            continue
        try:  # numbers as numbers without a Python object per value; text stays text
            columns[name] = pd.Series(col.cast(pa.float64()).to_numpy(zero_copy_only=False))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            columns[name] = col.to_pandas()
    last = (ts.iloc[-1].to_pydatetime(), int(ids[-1]))
    return Chunk(ids, ts.to_numpy(), columns, table_.column("gt").to_pandas(), last)


def _orm_chunk(window: Window, names: list[str], after, limit: int) -> Chunk:
    qs = PredictionLog.objects.filter(
        model_name=window.model_name, ts__gte=window.since, ts__lt=window.until, variant__in=window.variants
    )
    if window.labelled_only:
        qs = qs.exclude(ground_truth=None)
    rows = list(qs.order_by("ts", "id").values_list("id", "ts", "features", "ground_truth"))
    if after is not None:
        rows = [r for r in rows if (r[1], r[0]) > after]
    rows = rows[:limit]
    frame = pd.DataFrame.from_records([r[2] if isinstance(r[2], dict) else {} for r in rows], columns=names)
    truth = pd.Series([None if r[3] is None else str(r[3]).lower() if isinstance(r[3], bool) else str(r[3]) for r in rows], dtype=object)
    last = (rows[-1][1], rows[-1][0]) if rows else None
    return Chunk(np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows]),
                 {n: frame[n] for n in names}, truth, last)


def read_chunk(
    window: Window, names: list[str], *, after: tuple[datetime, int] | None, limit: int, numeric: list[bool] | None = None
) -> Chunk:
    """`numeric[i]`: the i-th column is a number in the schema (read without text in between)."""
    if connection.vendor == "postgresql":
        return _postgres_chunk(window, names, after, limit, numeric or [False] * len(names))
    return _orm_chunk(window, names, after, limit)


def split_time(window: Window, holdout: float) -> datetime | None:
    """The time from which the most recent `holdout` share of the window's labelled rows lie."""
    labelled = PredictionLog.objects.filter(
        model_name=window.model_name, ts__gte=window.since, ts__lt=window.until, variant__in=window.variants
    ).exclude(ground_truth=None)
    n = labelled.count()
    if n < 2:
        return None
    offset = min(n - 1, int(round(n * (1 - holdout))))
    return labelled.order_by("ts", "id").values_list("ts", flat=True)[offset]
