"""Where a feature view's rows live, as SQL, and the connections that read them.

Every identifier that reaches SQL was checked by features.definitions and is quoted here
with psycopg.sql.Identifier. A query source is the one place user text becomes SQL: only
admins may define one (features.services), and it is only ever read inside a READ ONLY
transaction, with a statement timeout, as one statement over the extended protocol
(psycopg sends parameters, so a second statement is refused by the server), and under
FEATURE_QUERY_ROLE when that is set (a role with SELECT on the source tables only; see
docs/features.md). Table sources on the control plane's own database must be in one of
FEATURE_SOURCE_SCHEMAS, never in the schema that holds the control plane's tables.
"""

from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import connections
from psycopg import sql

from control_plane.errors import Invalid

from . import file_sources

SQL_TYPES = {"int": "bigint", "float": "double precision", "string": "text", "bool": "boolean",
             "timestamp": "timestamptz"}


@dataclass(frozen=True)
class ViewSource:
    """What the SQL of one view needs, as plain values (built from a FeatureView)."""

    name: str
    keys: tuple[tuple[str, str], ...]  # (name, type) of the entity's join keys
    features: tuple[tuple[str, str], ...]
    kind: str
    table: str
    query: str
    connection: str
    event_column: str
    created_column: str
    ttl_seconds: int
    path: str = ""  # file sources


def view_source(view) -> ViewSource:
    return ViewSource(
        name=view.name,
        keys=tuple((k["name"], k["type"]) for k in view.entity.join_keys),
        features=tuple((f["name"], f["type"]) for f in view.features),
        kind=view.source_kind,
        table=view.source_table,
        query=view.source_query,
        connection=view.source_connection,
        event_column=view.event_timestamp_column,
        created_column=view.created_timestamp_column,
        ttl_seconds=view.ttl_seconds,
        path=view.source_path,
    )


def push_table(view_name: str) -> sql.Identifier:
    return sql.Identifier(settings.FEATURE_PUSH_SCHEMA, f"fv_{view_name}")


def relation(source: ViewSource) -> sql.Composable:
    """The view's rows as a FROM item named src."""
    if source.kind == "push":
        return sql.SQL("{} AS src").format(push_table(source.name))
    if source.kind == "table":
        schema, table = source.table.split(".")
        return sql.SQL("{} AS src").format(sql.Identifier(schema, table))
    return sql.SQL("({}) AS src").format(sql.SQL(source.query))  # admins only; read under guard()


def typed(column: str, kind: str, table: str = "src") -> sql.Composable:
    return sql.SQL("CAST({} AS {})").format(sql.Identifier(table, column), sql.SQL(SQL_TYPES[kind]))


def check_connection_name(name: str) -> None:
    if name and name not in settings.FEATURE_SOURCE_DATABASES:
        raise Invalid(
            f"Unknown source connection '{name}'.",
            code="unknown_connection",
            details={"source.connection": [f"Not one of FEATURE_SOURCE_DATABASES ({', '.join(settings.FEATURE_SOURCE_DATABASES) or 'none set'})."]},
        )


# Session settings of the feature store's own connections: its joins and scans run once
# per request over many rows, where JIT compilation costs more than it saves (~0.6 s
# measured on the 100k-row join), and its temp tables and sorts should stay in memory.
SESSION = "SET jit = off; SET enable_memoize = off; SET temp_buffers = '256MB'; SET work_mem = '64MB'"


def connect(name: str = "") -> psycopg.Connection:
    """A new connection (the caller closes it): the control plane's database for "", else
    the named FEATURE_SOURCE_DATABASES entry."""
    if name:
        check_connection_name(name)
        conn = psycopg.connect(settings.FEATURE_SOURCE_DATABASES[name], autocommit=True)
    else:
        params = connections["default"].get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        conn = psycopg.connect(**params, autocommit=True)
    conn.execute(SESSION)
    return conn


@contextmanager
def guard(conn: psycopg.Connection, source: ViewSource):
    """A transaction that reads a view's source: READ ONLY, a statement timeout, and the
    configured query role. Commits on success (the caller's temp-table inserts are kept)."""
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute("SELECT set_config('statement_timeout', %s, true)", [f"{settings.FEATURE_QUERY_TIMEOUT_SECONDS}s"])
        if source.kind == "query" and settings.FEATURE_QUERY_ROLE:
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(settings.FEATURE_QUERY_ROLE)))
        yield conn


def probe(source: ViewSource) -> None:
    """Read zero rows of the source with every column the view names: Invalid (422)
    naming the problem when the table, a column or a type does not fit."""
    if source.kind == "file":
        return file_sources.probe(source)
    columns = [typed(k, t) for k, t in source.keys] + [typed(source.event_column, "timestamp")]
    if source.created_column:
        columns.append(typed(source.created_column, "timestamp"))
    columns += [typed(f, t) for f, t in source.features]
    query = sql.SQL("SELECT {} FROM {} WHERE %s LIMIT 0").format(sql.SQL(", ").join(columns), relation(source))
    try:
        with connect(source.connection) as conn, guard(conn, source):
            conn.execute(query, [False])
    except psycopg.Error as exc:
        why = error_text(exc)
        raise Invalid(
            f"Feature view '{source.name}': its source cannot be read as defined: {why}",
            code="source_unreadable",
            details={"source": [why]},
        ) from None


def error_text(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    return (diag.message_primary if diag is not None else None) or str(exc).split("\n")[0]
