"""The offline store of push views: one table per view that the control plane owns, in
FEATURE_PUSH_SCHEMA, with typed columns generated from the view's features and an index
on (keys, event_timestamp, created_timestamp, id) that the point-in-time join walks.
Rows pushed with the same key, event time and created time are told apart by id (the
later push wins, offline as online)."""

from django.conf import settings
from django.db import connection
from psycopg import sql

from control_plane.errors import Invalid

from .definitions import PUSH_CREATED_COLUMN, PUSH_EVENT_COLUMN
from .sources import SQL_TYPES, push_table


def _existing_columns(view_name: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, format_type(atttypid, atttypmod) FROM information_schema.columns c "
            "JOIN pg_attribute a ON a.attname = c.column_name "
            "AND a.attrelid = format('%%I.%%I', c.table_schema, c.table_name)::regclass "
            "WHERE c.table_schema = %s AND c.table_name = %s",
            [settings.FEATURE_PUSH_SCHEMA, f"fv_{view_name}"],
        )
        return dict(cursor.fetchall())


def push_table_ensure(*, view_name: str, keys: list[tuple[str, str]], features: list[tuple[str, str]]) -> list[str]:
    """Create the view's table, or add the features it lacks (inside the caller's
    transaction: PostgreSQL's DDL rolls back with it). A feature whose type changed is
    refused: its stored values would no longer mean what the view says. Answers the
    columns added."""
    table = push_table(view_name)
    existing = _existing_columns(view_name)
    with connection.cursor() as cursor:
        if not existing:
            cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(settings.FEATURE_PUSH_SCHEMA)))
            columns = [sql.SQL("id bigserial PRIMARY KEY")]
            columns += [sql.SQL("{} {} NOT NULL").format(sql.Identifier(k), sql.SQL(SQL_TYPES[t])) for k, t in keys]
            columns += [
                sql.SQL("{} timestamptz NOT NULL").format(sql.Identifier(PUSH_EVENT_COLUMN)),
                sql.SQL("{} timestamptz NOT NULL").format(sql.Identifier(PUSH_CREATED_COLUMN)),
            ]
            columns += [sql.SQL("{} {}").format(sql.Identifier(f), sql.SQL(SQL_TYPES[t])) for f, t in features]
            cursor.execute(sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(columns)))
            index_columns = [k for k, _ in keys] + [PUSH_EVENT_COLUMN, PUSH_CREATED_COLUMN, "id"]
            cursor.execute(
                sql.SQL("CREATE INDEX {} ON {} ({})").format(
                    sql.Identifier(f"fv_{view_name}_pit"), table, sql.SQL(", ").join(map(sql.Identifier, index_columns))
                )
            )
            return [f for f, _ in features]
        wrong = {
            f: f"stored as {existing[f]}, now {t}" for f, t in features if f in existing and existing[f] != SQL_TYPES[t]
        }
        wrong.update({k: f"join key stored as {existing.get(k)}" for k, t in keys if existing.get(k) != SQL_TYPES[t]})
        if wrong:
            raise Invalid(
                f"Push view '{view_name}' holds data of other types: {'; '.join(f'{k} {v}' for k, v in wrong.items())}. "
                "Define a new view instead.",
                code="type_change",
                details={"features": [f"{k}: {v}" for k, v in wrong.items()]},
            )
        added = [(f, t) for f, t in features if f not in existing]
        for name, kind in added:
            cursor.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(table, sql.Identifier(name), sql.SQL(SQL_TYPES[kind]))
            )
        return [f for f, _ in added]
