"""Retention outside a transaction (the beat task, the command): a day partition is detached
CONCURRENTLY before it is dropped, so the log stays readable and writable meanwhile."""

import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection

from monitoring import log_partitions
from monitoring.models import PredictionLog
from monitoring.prediction_log import log_predictions
from monitoring.services import predictions_purge

from .conftest import make_record

pytestmark = pytest.mark.django_db(transaction=True)

OLD = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)  # days no other test uses
KEPT = OLD + timedelta(days=3)
NOW = OLD + timedelta(days=32)


def _connect() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(dbname=s["NAME"], host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"],
                           password=s["PASSWORD"] or None, autocommit=True)


def _waiting_detach(observer: psycopg.Connection) -> bool:
    return observer.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'ALTER TABLE%%DETACH PARTITION%%CONCURRENTLY' "
        "AND wait_event_type IS NOT NULL AND datname = current_database()"
    ).fetchone()[0] > 0


@pytest.fixture
def logged(direct):
    log_predictions([make_record(1, timestamp=OLD), make_record(2, timestamp=KEPT)])


def test_a_detach_left_pending_is_finished_and_the_day_dropped(logged):
    old = log_partitions.partition_name(OLD.date())
    with _connect() as reader, _connect() as retention:
        reader.execute("BEGIN")
        reader.execute(f"SELECT count(*) FROM {log_partitions.TABLE}")  # a transaction the detach must wait for
        retention.execute("SET statement_timeout = '300ms'")
        with pytest.raises(psycopg.errors.QueryCanceled):  # interrupted while waiting: left pending
            retention.execute(f"ALTER TABLE {log_partitions.TABLE} DETACH PARTITION {old} CONCURRENTLY")
        reader.execute("COMMIT")

    purged = predictions_purge(older_than_days=30, now=NOW)

    assert purged.partitions == [old]
    assert OLD.date() not in log_partitions.partitions()
    assert list(PredictionLog.objects.values_list("request_id", flat=True)) == ["req-000002"]


def test_the_log_stays_usable_while_retention_waits_for_a_long_reader(logged):
    old = log_partitions.partition_name(OLD.date())
    result = {}

    def purge():
        try:
            result["purged"] = predictions_purge(older_than_days=30, now=NOW)
        finally:
            connection.close()

    with _connect() as reader, _connect() as other, _connect() as observer:
        reader.execute("BEGIN")
        reader.execute(f"SELECT count(*) FROM {log_partitions.TABLE}")  # e.g. a long export
        worker = threading.Thread(target=purge)
        worker.start()
        while not _waiting_detach(observer):  # retention has started and waits for the reader
            assert worker.is_alive(), result
            time.sleep(0.02)
        # A plain DROP would be queued for an exclusive lock on the log, and everything behind it.
        other.execute("SET lock_timeout = '2s'")
        assert other.execute(f"SELECT count(*) FROM {log_partitions.TABLE} WHERE ts >= %s", [KEPT]).fetchone() == (1,)
        reader.execute("COMMIT")
        worker.join()

    assert result["purged"].partitions == [old]
    assert OLD.date() not in log_partitions.partitions()


def test_a_second_run_while_one_is_dropping_drops_nothing(logged):
    with _connect() as first:
        first.execute("SELECT pg_advisory_lock(%s)", [log_partitions.RETENTION_LOCK])  # a run under way

        assert predictions_purge(older_than_days=30, now=NOW).partitions == []
        assert OLD.date() in log_partitions.partitions()
        first.execute("SELECT pg_advisory_unlock(%s)", [log_partitions.RETENTION_LOCK])

    assert predictions_purge(older_than_days=30, now=NOW).partitions == [log_partitions.partition_name(OLD.date())]
