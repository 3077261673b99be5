"""The prediction log partitioned by day on PostgreSQL, existing rows kept (see
monitoring/log_partitions.py). Its unique key gains ts (PostgreSQL requires the partition key
in every unique index); on SQLite the table stays plain with the same key."""

from datetime import UTC, datetime, timedelta

from django.db import migrations, models

TABLE = "monitoring_predictionlog"
INDEXES = {
    "prediction_model_ts": "(model_name, ts)",
    "prediction_model_version_ts": "(model_name, model_version, ts)",
    "prediction_ts": "(ts)",
}
AHEAD_DAYS = 7


def _partition_sql(day) -> str:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return (
        f"CREATE TABLE IF NOT EXISTS {TABLE}_p{day:%Y%m%d} PARTITION OF {TABLE} "
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')"
    )


def _swap(cursor, create: str) -> None:
    """Build the new table beside the old one, move the rows, drop the old one."""
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_old")
    cursor.execute(create.format(table=TABLE, like=f"{TABLE}_old"))


def _finish(cursor, unique: str, primary: str) -> None:
    cursor.execute(f"DROP TABLE {TABLE}_old")
    cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY {primary}")
    cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT prediction_unique_request UNIQUE {unique}")
    for name, columns in INDEXES.items():
        cursor.execute(f"CREATE INDEX {name} ON {TABLE} {columns}")
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), coalesce((SELECT max(id) FROM {TABLE}), 0) + 1, false)"
    )


def _copy_rows(cursor) -> None:
    cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {TABLE}_old")


def forward(apps, schema_editor):
    model = apps.get_model("monitoring", "PredictionLog")
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.remove_constraint(model, models.UniqueConstraint(
            fields=["request_id", "model_name", "variant"], name="prediction_unique_request"))
        schema_editor.add_constraint(model, models.UniqueConstraint(
            fields=["request_id", "model_name", "variant", "ts"], name="prediction_unique_request"))
        return
    with schema_editor.connection.cursor() as cursor:
        _swap(cursor, "CREATE TABLE {table} (LIKE {like} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY) "
                      "PARTITION BY RANGE (ts)")
        cursor.execute(f"SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM {TABLE}_old")
        today = datetime.now(UTC).date()
        days = {day for (day,) in cursor.fetchall()} | {today + timedelta(days=n) for n in range(-1, AHEAD_DAYS + 1)}
        for day in sorted(days):
            cursor.execute(_partition_sql(day))
        _copy_rows(cursor)
        _finish(cursor, "(request_id, model_name, variant, ts)", "(id, ts)")


def backward(apps, schema_editor):
    model = apps.get_model("monitoring", "PredictionLog")
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.remove_constraint(model, models.UniqueConstraint(
            fields=["request_id", "model_name", "variant", "ts"], name="prediction_unique_request"))
        schema_editor.add_constraint(model, models.UniqueConstraint(
            fields=["request_id", "model_name", "variant"], name="prediction_unique_request"))
        return
    with schema_editor.connection.cursor() as cursor:
        _swap(cursor, "CREATE TABLE {table} (LIKE {like} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY)")
        _copy_rows(cursor)  # fails on rows equal but for ts: which to keep is not this migration's call
        _finish(cursor, "(request_id, model_name, variant)", "(id)")


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0004_retraining_heartbeat")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="predictionlog", name="prediction_unique_request"),
                migrations.AddConstraint(
                    model_name="predictionlog",
                    constraint=models.UniqueConstraint(
                        fields=("request_id", "model_name", "variant", "ts"), name="prediction_unique_request"
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        ),
    ]
