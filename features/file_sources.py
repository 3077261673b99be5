"""File sources: a feature view whose rows are Parquet files (one path, or a glob) under
FEATURE_DATA_ROOTS, read in process with DuckDB. The point-in-time join, the newest row
per key for materialization, the probe and the page's sample all run in DuckDB over the
files, never row by row in Python.

DuckDB runs with extension auto-install and auto-load off: the Parquet reader and the
time-zone support it needs are built into the wheel, so nothing is ever downloaded.
Times are compared as naive UTC TIMESTAMPs (the session's time zone is UTC).

The point-in-time join is a range join on the keys (t - ttl <= event_ts <= t, both
inclusive) that keeps, per entity row, the row with the greatest (event_ts, created_ts)
(row_number over the entity row, as Feast's DuckDB store does; an ASOF JOIN after a
per-(key, event_ts) dedupe is exact too but measured slower on the benchmark's data). A
key with very many rows inside one TTL makes the range join grow with rows x entity rows
of that key; PostgreSQL sources walk an index instead.
"""

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from django.conf import settings

from control_plane.errors import Invalid

DUCK_TYPES = {"int": "BIGINT", "float": "DOUBLE", "string": "VARCHAR", "bool": "BOOLEAN", "timestamp": "TIMESTAMP"}
ARROW_KEY_TYPES = {"int": pa.int64(), "string": pa.string()}
ENTITY_TABLE = "entity_rows"


def under_data_roots(text: str) -> bool:
    """An absolute path (a glob allowed) inside one of FEATURE_DATA_ROOTS."""
    roots = [Path(r).resolve() for r in settings.FEATURE_DATA_ROOTS]
    return Path(text).is_absolute() and any(Path(text).resolve().is_relative_to(root) for root in roots)


def connect() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    conn.execute("SET TimeZone = 'UTC'")
    return conn


def quoted(name: str) -> str:
    """A checked identifier (features.definitions) in DuckDB's quoting."""
    return '"' + name.replace('"', '""') + '"'


def typed(column: str, kind: str) -> str:
    return f"CAST(src.{quoted(column)} AS {DUCK_TYPES[kind]})"


RELATION = "read_parquet(?) AS src"  # the view's rows; parameter: the path


def _columns(source) -> list[str]:
    """Keys, __ets, __cts (no created time sorts lowest), then the features, typed."""
    columns = [f"{typed(k, t)} AS {quoted(k)}" for k, t in source.keys]
    columns.append(f"{typed(source.event_column, 'timestamp')} AS __ets")
    created = f"COALESCE({typed(source.created_column, 'timestamp')}, '-infinity'::TIMESTAMP)" if source.created_column \
        else "'-infinity'::TIMESTAMP"
    columns.append(f"{created} AS __cts")
    columns += [f"{typed(f, t)} AS {quoted(f)}" for f, t in source.features]
    return columns


def _rows(source) -> str:
    return f"SELECT {', '.join(_columns(source))} FROM {RELATION}"


def _error(source, exc: Exception) -> Invalid:
    why = str(exc).split("\n")[0]
    return Invalid(f"Feature view '{source.name}': its file source cannot be read as defined: {why}",
                   code="source_unreadable", details={"source": [why]})


def probe(source) -> None:
    """Read zero rows with every column the view names: Invalid (422) naming the problem."""
    try:
        with connect() as conn:
            conn.execute(f"{_rows(source)} LIMIT 0", [source.path]).fetchall()
    except duckdb.Error as exc:
        raise _error(source, exc) from None


def entity_arrow(frame: pd.DataFrame, keys) -> pa.Table:
    """row_no, the join keys and event_timestamp (naive UTC) of a prepared entity frame."""
    columns = {"row_no": pa.array(np.arange(len(frame), dtype=np.int64))}
    for name, kind in keys:
        columns[name] = pa.array(frame[name], type=ARROW_KEY_TYPES[kind], from_pandas=True)
    columns["event_timestamp"] = pa.array(frame["event_timestamp"].dt.tz_convert(None).astype("datetime64[us]"))
    return pa.table(columns)


def pit_query(source, features) -> str:
    """Per entity row: row_no and the wanted features of the one row with the same keys,
    t - ttl <= event_ts <= t, the greatest (event_ts, created_ts); none: nulls. Parameter: the path."""
    match = [f"s.{quoted(k)} = e.{quoted(k)}" for k, _ in source.keys]
    match += ["s.__ets <= e.event_timestamp", f"s.__ets >= e.event_timestamp - to_seconds({int(source.ttl_seconds)})"]
    selected = ", ".join(f"s.{quoted(f)}" for f, _ in features)
    return (
        f"SELECT e.row_no, {selected} FROM {ENTITY_TABLE} e LEFT JOIN ({_rows(source)}) s ON {' AND '.join(match)} "
        "QUALIFY row_number() OVER (PARTITION BY e.row_no ORDER BY s.__ets DESC, s.__cts DESC) = 1"
    )


def _series(column: pa.ChunkedArray, kind: str) -> pd.Series:
    if kind == "timestamp":
        return pd.Series(pd.to_datetime(column.to_numpy(zero_copy_only=False), utc=True))
    if kind == "int":
        return pd.Series(column.to_pandas(), dtype="Int64")
    if kind == "bool":
        return pd.Series(column.to_pandas(), dtype="boolean")
    return column.to_pandas().reset_index(drop=True)


def historical_columns(views: list, frame: pd.DataFrame, keys) -> dict[str, pd.Series]:
    """Every wanted feature of the file views, one value per entity row in input order."""
    out = {}
    try:
        with connect() as conn:
            conn.register(ENTITY_TABLE, entity_arrow(frame, keys))
            for _, view in views:
                table = conn.sql(pit_query(view.source, view.features), params=[view.source.path]).to_arrow_table()
                table = table.take(pa.array(np.argsort(table.column("row_no").to_numpy())))
                for name, kind in view.features:
                    out[name] = _series(table.column(name), kind)
    except duckdb.Error as exc:
        raise Invalid(f"The point-in-time join failed: {str(exc).splitlines()[0]}", code="join_failed") from None
    return out


def _online_text(column: str, kind: str) -> str:
    """The feature as the online store's text (features.online.decode reads it back)."""
    value = f"latest.{quoted(column)}"
    if kind == "bool":
        return f"CASE WHEN {value} THEN '1' WHEN NOT {value} THEN '0' END"
    if kind == "timestamp":
        return f"CAST(epoch_us({value}) AS VARCHAR)"
    return f"CAST({value} AS VARCHAR)"


def latest_rows(source, window_start, window_end, cursor) -> tuple[str, list]:
    """The newest row per key in (window_start, window_end] after the cursor, in key order:
    keys, event us, created us (None when the view has no created column), the features
    as online text, the number of such keys. The same shape as materialize's SQL query."""
    keys = [quoted(k) for k, _ in source.keys]
    where, params = ["__ets <= ?"], [source.path, _naive(window_end)]
    if window_start is not None:
        where.append("__ets > ?")
        params.append(_naive(window_start))
    if cursor is not None:
        where.append(f"({', '.join(keys)}) > ({', '.join('?' * len(keys))})")
        params += list(cursor)
    created = "CASE WHEN isinf(latest.__cts) THEN NULL ELSE epoch_us(latest.__cts) END"
    outer = [f"latest.{k}" for k in keys] + ["epoch_us(latest.__ets)", created]
    outer += [_online_text(f, t) for f, t in source.features]
    query = (
        f"SELECT {', '.join(outer)}, count(*) OVER () FROM ("
        f"SELECT * FROM ({_rows(source)}) WHERE {' AND '.join(where)} "
        f"QUALIFY row_number() OVER (PARTITION BY {', '.join(keys)} ORDER BY __ets DESC, __cts DESC) = 1"
        f") latest ORDER BY {', '.join(f'latest.{k}' for k in keys)}"
    )
    return query, params


def _naive(value):
    return pd.Timestamp(value).tz_convert("UTC").tz_localize(None).to_pydatetime()


def sample(source, rows: int) -> tuple:
    """(newest event as an aware UTC time, the newest `rows` rows of the features)."""
    features = ", ".join(quoted(f) for f, _ in source.features)
    with connect() as conn:
        newest = conn.execute(f"SELECT max(__ets) FROM ({_rows(source)})", [source.path]).fetchone()[0]
        recent = conn.execute(f"SELECT {features} FROM ({_rows(source)}) ORDER BY __ets DESC LIMIT ?",
                              [source.path, rows]).fetchall()
    return (pd.Timestamp(newest, tz="UTC").to_pydatetime() if newest is not None else None), recent
