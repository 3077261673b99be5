"""The point-in-time join as SQL (a pure kernel: psycopg.sql only, no connection).

For each entity row (keys k, time t) and each view, the one source row with the same
keys and t - ttl <= event_ts <= t (both inclusive) with the greatest (event_ts,
created_ts), by a LATERAL subquery that walks an index of (keys, event_ts, created_ts)
backwards and stops at the first row (LIMIT 1). No candidate: nulls. The chosen row's
nulls stay null. One output row per entity row, ordered by the entity row's number.
"""

from psycopg import sql

from .definitions import PUSH_CREATED_COLUMN, PUSH_EVENT_COLUMN
from .sources import SQL_TYPES, ViewSource, guard, push_table, relation, typed  # noqa: F401

ENTITY_TABLE = "pit_entity_rows"
ETS, CTS = "__ets", "__cts"


def staged_table(index: int) -> str:
    return f"pit_source_{index}"


def entity_table_ddl(keys: tuple[tuple[str, str], ...]) -> sql.Composed:
    columns = [sql.SQL("row_no bigint")]
    columns += [sql.SQL("{} {}").format(sql.Identifier(k), sql.SQL(SQL_TYPES[t])) for k, t in keys]
    columns.append(sql.SQL("event_timestamp timestamptz"))
    return sql.SQL("CREATE TEMP TABLE {} ({})").format(sql.Identifier(ENTITY_TABLE), sql.SQL(", ").join(columns))


def entity_copy(keys: tuple[tuple[str, str], ...]) -> sql.Composed:
    names = ["row_no"] + [k for k, _ in keys] + ["event_timestamp"]
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(ENTITY_TABLE), sql.SQL(", ").join(map(sql.Identifier, names))
    )


def staged_ddl(index: int, source: ViewSource) -> sql.Composed:
    """A temp table for a table or query source's rows in the frame's time range, typed as
    the view says (sources we do not own may lack the index the join walks)."""
    name = sql.Identifier(staged_table(index))
    columns = [sql.SQL("{} {}").format(sql.Identifier(k), sql.SQL(SQL_TYPES[t])) for k, t in source.keys]
    columns += [sql.SQL("{} timestamptz").format(sql.Identifier(ETS)), sql.SQL("{} timestamptz").format(sql.Identifier(CTS))]
    columns += [sql.SQL("{} {}").format(sql.Identifier(f), sql.SQL(SQL_TYPES[t])) for f, t in source.features]
    return sql.SQL("CREATE TEMP TABLE {} ({})").format(name, sql.SQL(", ").join(columns))


def staged_index(index: int, source: ViewSource) -> sql.Composed:
    """Built once the rows are in (one sort, not 500k index insertions)."""
    columns = [sql.Identifier(k) for k, _ in source.keys] + [sql.Identifier(ETS), sql.Identifier(CTS)]
    return sql.SQL("CREATE INDEX ON {} ({})").format(sql.Identifier(staged_table(index)), sql.SQL(", ").join(columns))


def staged_fill(index: int, source: ViewSource) -> sql.Composed:
    """INSERT the source's rows that any entity row can reach; params: [ttl seconds]."""
    columns = [typed(k, t) for k, t in source.keys] + [typed(source.event_column, "timestamp")]
    # No created time sorts lowest: -infinity, so the index's backward scan is the join's order.
    columns.append(sql.SQL("COALESCE({}, '-infinity')").format(typed(source.created_column, "timestamp"))
                   if source.created_column else sql.SQL("'-infinity'::timestamptz"))
    columns += [typed(f, t) for f, t in source.features]
    event = sql.Identifier("src", source.event_column)
    return sql.SQL(
        "INSERT INTO {staged} SELECT {columns} FROM {relation} "
        "WHERE {event} <= (SELECT max(event_timestamp) FROM {entity}) "
        "AND {event} >= (SELECT min(event_timestamp) FROM {entity}) - %s * interval '1 second'"
    ).format(
        staged=sql.Identifier(staged_table(index)), columns=sql.SQL(", ").join(columns), relation=relation(source),
        event=event, entity=sql.Identifier(ENTITY_TABLE),
    )


def _lateral(index: int, source: ViewSource, features: tuple[tuple[str, str], ...]) -> sql.Composed:
    alias = sql.Identifier(f"v{index}")
    if source.kind == "push":
        table, event, created, tiebreak = push_table(source.name), PUSH_EVENT_COLUMN, PUSH_CREATED_COLUMN, True
    else:
        table, event, created, tiebreak = sql.Identifier(staged_table(index)), ETS, CTS, False
    match = [
        sql.SQL("s.{k} = e.{k}").format(k=sql.Identifier(k)) for k, _ in source.keys
    ] + [
        sql.SQL("s.{ev} <= e.event_timestamp").format(ev=sql.Identifier(event)),
        sql.SQL("s.{ev} >= e.event_timestamp - %s * interval '1 second'").format(ev=sql.Identifier(event)),
    ]
    # Both created columns are NOT NULL (push) or coalesced (staged): plain DESC is a backward index scan.
    order = [sql.SQL("s.{} DESC").format(sql.Identifier(event)), sql.SQL("s.{} DESC").format(sql.Identifier(created))]
    if tiebreak:  # equal event and created time in a push table: the later push wins
        order.append(sql.SQL("s.id DESC"))
    selected = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(f)) for f, _ in features)
    return sql.SQL("LEFT JOIN LATERAL (SELECT {sel} FROM {table} s WHERE {match} ORDER BY {order} LIMIT 1) {alias} ON true").format(
        sel=selected, table=table, match=sql.SQL(" AND ").join(match), order=sql.SQL(", ").join(order), alias=alias,
    )


def pit_select(views: list[tuple[int, ViewSource, tuple[tuple[str, str], ...]]]) -> tuple[sql.Composed, list]:
    """The join over (index, source, features wanted) -> (query, params). Selects row_no
    then every wanted feature, in order."""
    columns = [sql.SQL("e.row_no")]
    joins, params = [], []
    for index, source, features in views:
        columns += [sql.SQL("{}.{}").format(sql.Identifier(f"v{index}"), sql.Identifier(f)) for f, _ in features]
        joins.append(_lateral(index, source, features))
        params.append(source.ttl_seconds)
    query = sql.SQL("SELECT {} FROM {} e {} ORDER BY e.row_no").format(
        sql.SQL(", ").join(columns), sql.Identifier(ENTITY_TABLE), sql.SQL(" ").join(joins)
    )
    return query, params
