"""Point-in-time correct training frames: the entity frame goes into PostgreSQL (COPY into
a temp table with a row number), the join runs there (features.pit_sql), and the answer
comes back in row-number order in chunks, so a big frame streams. Views on different
databases are joined on each and zipped: every side answers exactly one row per entity
row, in the same order."""

import io
from collections.abc import Iterator

import numpy as np
import pandas as pd
import psycopg
from django.conf import settings
from psycopg import sql

from control_plane.errors import Invalid

from . import file_sources, pit_sql
from .resolve import Resolved
from .sources import connect, error_text, guard

EVENT_COLUMN = "event_timestamp"
PANDAS_TYPES = {"int": "Int64", "float": "float64", "string": "object", "bool": "boolean"}


def prepare_frame(frame: pd.DataFrame, resolved: Resolved) -> pd.DataFrame:
    """The join keys and event_timestamp typed (naive times are UTC); Invalid naming the
    column and the first bad row. Other columns are kept as they are."""
    needed = [k for k, _ in resolved.keys] + [EVENT_COLUMN]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise Invalid(f"The entity frame lacks column(s) {', '.join(missing)}.", code="missing_columns",
                      details={c: ["Missing from the entity frame."] for c in missing})
    clash = [f for f in resolved.feature_names if f in frame.columns]
    if clash:
        raise Invalid(f"The entity frame already has column(s) named like features: {', '.join(clash)}.",
                      details={c: ["Also a feature name."] for c in clash})
    if len(frame) == 0:
        raise Invalid("The entity frame has no rows.", code="empty_file", details={"file": ["No rows."]})
    frame = frame.reset_index(drop=True)
    column = frame[EVENT_COLUMN]
    if pd.api.types.is_datetime64_any_dtype(column):  # already times (Parquet): no per-value parsing
        times = column.dt.tz_localize("UTC") if column.dt.tz is None else column.dt.tz_convert("UTC")
    else:
        times = pd.to_datetime(column, errors="coerce", utc=True, format="mixed")
    bad = times.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise Invalid(f"event_timestamp at row {row} is not a time: {frame[EVENT_COLUMN].iat[row]!r}.",
                      code="bad_values", details={EVENT_COLUMN: [f"Not a time at row {row}."]})
    frame[EVENT_COLUMN] = times
    for name, kind in resolved.keys:
        if kind == "int":
            values = pd.to_numeric(frame[name], errors="coerce")
            bad = (values.isna() & frame[name].notna()) | (values.notna() & (values % 1 != 0))
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise Invalid(f"Join key {name} at row {row} is not an integer: {frame[name].iat[row]!r}.",
                              code="bad_values", details={name: [f"Not an integer at row {row}."]})
            frame[name] = values.astype("Int64")
        else:
            frame[name] = frame[name].astype("string")
    return frame


def _entity_csv(frame: pd.DataFrame, keys) -> bytes:
    out = pd.DataFrame({"row_no": np.arange(len(frame), dtype=np.int64)})
    for name, kind in keys:
        out[name] = frame[name]
    out[EVENT_COLUMN] = np.char.add(np.datetime_as_string(frame[EVENT_COLUMN].dt.tz_convert(None).to_numpy(), unit="us"), "Z")
    # Quoted strings: an empty string stays a string, an empty field is NULL.
    return out.to_csv(index=False, header=False, quoting=2 if any(k == "string" for _, k in keys) else 0,
                      na_rep="").encode()


FILES = None  # the group of file views (DuckDB), beside one group per PostgreSQL connection


def _groups(resolved: Resolved) -> dict:
    groups: dict = {}
    for index, view in enumerate(resolved.views):
        if view.source.kind == "file":
            group = FILES
        else:
            group = "" if view.source.kind == "push" else view.source.connection
        groups.setdefault(group, []).append((index, view))
    return groups


def _postgres_group(connection_name: str, views: list, frame: pd.DataFrame, keys, chunk_rows: int):
    """Stage the frame and the sources on one database, then yield {feature: column}
    chunks in row-number order."""
    conn = connect(connection_name)
    try:
        with conn.transaction():
            conn.execute(pit_sql.entity_table_ddl(keys))
            with conn.cursor().copy(pit_sql.entity_copy(keys)) as copy:
                copy.write(_entity_csv(frame, keys))
            for index, view in views:
                if view.source.kind != "push":
                    conn.execute(pit_sql.staged_ddl(index, view.source))
        staged = [(index, view) for index, view in views if view.source.kind != "push"]
        for index, view in staged:
            with guard(conn, view.source):  # the only statement that reads the author's source
                conn.execute(pit_sql.staged_fill(index, view.source), [view.source.ttl_seconds])
        for index, view in staged:
            conn.execute(pit_sql.staged_index(index, view.source))
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(pit_sql.staged_table(index))))
        conn.execute("ANALYZE " + pit_sql.ENTITY_TABLE)
        query, params = pit_sql.pit_select([(index, view.source, view.features) for index, view in views])
        with conn.transaction():
            cursor = conn.cursor(name="pit", binary=True)
            cursor.execute(query, params)
            while rows := cursor.fetchmany(chunk_rows):
                yield _columns(rows, views)
    except psycopg.Error as exc:
        raise Invalid(f"The point-in-time join failed: {error_text(exc)}", code="join_failed") from None
    finally:
        conn.close()


def _typed_column(values: list, kind: str) -> pd.Series:
    if kind == "timestamp":
        return pd.Series(pd.to_datetime(values, utc=True))
    return pd.Series(values, dtype=PANDAS_TYPES[kind])


def historical_chunks(resolved: Resolved, frame: pd.DataFrame, *, chunk_rows: int | None = None) -> Iterator[pd.DataFrame]:
    """The entity frame with every feature added, in input order, chunk by chunk."""
    chunk_rows = chunk_rows or settings.FEATURE_HISTORICAL_CHUNK_ROWS
    frame = prepare_frame(frame, resolved)
    groups = _groups(resolved)
    streams = [_group_stream(name, views, frame, resolved.keys, chunk_rows) for name, views in groups.items()]
    start = 0
    while start < len(frame):
        columns: dict[str, pd.Series] = {}
        for stream in streams:
            columns.update(next(stream))
        length = len(next(iter(columns.values())))
        part = frame.iloc[start : start + length].reset_index(drop=True)
        for name in resolved.feature_names:
            part[name] = columns[name]
        yield part
        start += length
    for stream in streams:
        stream.close()


def _group_stream(name, views: list, frame: pd.DataFrame, keys, chunk_rows: int) -> Iterator[dict[str, pd.Series]]:
    if name is FILES:
        return _file_group(views, frame, keys, chunk_rows)
    return _postgres_group(name, views, frame, keys, chunk_rows)


def _file_group(views: list, frame: pd.DataFrame, keys, chunk_rows: int) -> Iterator[dict[str, pd.Series]]:
    """The file views joined in DuckDB at once (columns in memory beside the frame), in chunks."""
    columns = file_sources.historical_columns(views, frame, keys)
    for start in range(0, len(frame), chunk_rows):
        yield {name: column.iloc[start : start + chunk_rows].reset_index(drop=True) for name, column in columns.items()}


def _columns(rows: list, views: list) -> dict[str, pd.Series]:
    """Rows (row_no, features...) -> {feature: typed column}."""
    columns, at = {}, 1
    for _, view in views:
        for name, kind in view.features:
            columns[name] = _typed_column([r[at] for r in rows], kind)
            at += 1
    return columns


def read_frame(data: bytes | None = None, path=None, name: str = "the file") -> pd.DataFrame:
    from monitoring.reference import read_table

    return read_table(data=data, path=path, name=name)


def csv_stream(chunks: Iterator[pd.DataFrame]) -> Iterator[bytes]:
    first = True
    for chunk in chunks:
        yield chunk.to_csv(index=False, header=first, date_format="%Y-%m-%dT%H:%M:%S.%f%z").encode()
        first = False


ARROW_TYPES = {"int": "int64", "float": "float64", "string": "string", "bool": "bool"}


def _arrow_schema(table, feature_types: dict[str, str]):
    """The first chunk's schema, with the declared type for columns that were all null there."""
    import pyarrow as pa

    fields = []
    for field in table.schema:
        if pa.types.is_null(field.type):
            kind = feature_types.get(field.name, "string")
            field = field.with_type(pa.timestamp("us", tz="UTC") if kind == "timestamp" else pa.type_for_alias(ARROW_TYPES[kind]))
        fields.append(field)
    return pa.schema(fields, metadata=table.schema.metadata)


def parquet_stream(chunks: Iterator[pd.DataFrame], feature_types: dict[str, str]) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    writer = None
    for chunk in chunks:
        table = pa.Table.from_pandas(chunk, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(sink, _arrow_schema(table, feature_types))
            table = table.cast(writer.schema)
        else:
            table = table.cast(writer.schema)
        writer.write_table(table)
        yield sink.getvalue()
        sink.seek(0)
        sink.truncate()
    if writer is not None:
        writer.close()
        yield sink.getvalue()


CONTENT_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


def output_stream(chunks: Iterator[pd.DataFrame], fmt: str, resolved: Resolved) -> Iterator[bytes]:
    """The answer's bytes in `fmt` (csv or parquet), chunk by chunk: the sync response and the job's file."""
    if fmt == "csv":
        return csv_stream(chunks)
    return parquet_stream(chunks, {f: k for v in resolved.views for f, k in v.features})
