"""The prediction log's day partitions keep 10 % of every page free (fillfactor 90), so ground
truth, which arrives after the row, is usually a HOT update (the new row version on the same
page, no index touched). New partitions get it when created (log_partitions.create_sql);
this sets it on the existing ones, for the pages they write from now on."""

from django.db import migrations

TABLE = "monitoring_predictionlog"
FILLFACTOR = 90  # log_partitions.FILLFACTOR when this migration was written


def _partitions(cursor) -> list[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
        [TABLE],
    )
    return [name for (name,) in cursor.fetchall()]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in _partitions(cursor):
            cursor.execute(f'ALTER TABLE "{name}" SET (fillfactor = {FILLFACTOR})')


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in _partitions(cursor):
            cursor.execute(f'ALTER TABLE "{name}" RESET (fillfactor)')


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0005_perf_partition_prediction_log")]

    operations = [migrations.RunPython(forward, backward)]
