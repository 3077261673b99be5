"""The prediction log's day partitions and the window sample, on the real PostgreSQL."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection

from monitoring import log_partitions, log_sample
from monitoring.drain import DEAD_SUFFIX, drain_until_empty
from monitoring.log_sample import window_sample
from monitoring.models import PredictionLog
from monitoring.prediction_log import log_predictions, redis_client
from monitoring.services import predictions_purge

from .conftest import make_record

pytestmark = pytest.mark.django_db


def _day(ts: datetime) -> date:
    return ts.astimezone(UTC).date()


def test_the_log_is_partitioned_by_day_with_the_partition_key_in_its_unique_index():
    assert log_partitions.partitioned()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_partkeydef(to_regclass(%s))", [log_partitions.TABLE])
        assert cursor.fetchone()[0] == "RANGE (ts)"
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'prediction_unique_request'")
        assert cursor.fetchone()[0] == "UNIQUE (request_id, model_name, variant, ts)"


def test_beat_creates_the_days_ahead():
    today = datetime.now(UTC).date() + timedelta(days=400)  # days no other test touches
    created = log_partitions.ensure_ahead(days=3, today=today)

    assert created == [today + timedelta(days=n) for n in range(-1, 4)]
    assert set(created) <= set(log_partitions.partitions())
    assert log_partitions.ensure_ahead(days=3, today=today) == []


def test_a_record_for_a_day_without_a_partition_creates_it_and_is_stored(stream):
    served = datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)
    assert date(2024, 2, 29) not in log_partitions.partitions()
    log_predictions([make_record(1, timestamp=served), make_record(2)])

    assert drain_until_empty(consumer="t1") == 1

    assert date(2024, 2, 29) in log_partitions.partitions()
    assert PredictionLog.objects.get(request_id="req-000001").ts == served
    assert PredictionLog.objects.count() == 2
    assert redis_client().xlen(stream + DEAD_SUFFIX) == 0


def test_a_retried_record_is_one_row_and_the_same_request_id_on_another_day_another(direct):
    served = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
    log_predictions([make_record(1, timestamp=served)])
    log_predictions([make_record(1, timestamp=served)])  # the retry: same record, same time
    log_predictions([make_record(1, timestamp=served + timedelta(days=1))])

    assert sorted(PredictionLog.objects.values_list("ts", flat=True)) == [served, served + timedelta(days=1)]


def test_retention_drops_whole_days_older_than_the_cutoff(direct):
    now = datetime(2025, 9, 10, 12, 0, tzinfo=UTC)
    old, cutoff_day, kept = now - timedelta(days=32), now - timedelta(days=30, hours=2), now - timedelta(days=29)
    log_predictions([make_record(i, timestamp=old + timedelta(minutes=i)) for i in range(5)])
    log_predictions([make_record(10, timestamp=cutoff_day), make_record(11, timestamp=kept)])

    purged = predictions_purge(older_than_days=30, now=now)

    assert purged.partitions == [log_partitions.partition_name(_day(old))]
    assert _day(old) not in log_partitions.partitions()
    # the cutoff's own day is kept whole (its rows before the cutoff go with the next run)
    assert sorted(PredictionLog.objects.values_list("request_id", flat=True)) == ["req-000010", "req-000011"]


def _log_window(n: int, start: datetime, model: str = "churn-predictor") -> None:
    rows = [make_record(i, model=model, timestamp=start + timedelta(seconds=i)) for i in range(n)]
    for begin in range(0, n, 1000):
        log_predictions(rows[begin : begin + 1000])


def test_a_large_window_is_sampled_from_its_pages_and_only_from_the_window(direct, monkeypatch):
    start = datetime(2025, 4, 2, 0, 0, tzinfo=UTC)
    _log_window(6000, start)
    _log_window(3000, start, model="other-model")
    _log_window(500, start - timedelta(days=1))  # outside the window
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {log_partitions.TABLE}")
    monkeypatch.setattr(log_sample, "EXACT_BELOW", 1000)
    sampled = []
    real = log_sample._sampled
    monkeypatch.setattr(log_sample, "_sampled", lambda *a: sampled.append(a[2]) or real(*a))
    random.seed(7)

    window = PredictionLog.objects.filter(model_name="churn-predictor", ts__gte=start, ts__lt=start + timedelta(days=1))
    rows = window_sample(window, 200, ("request_id", "ts", "features"))

    assert sampled and sampled[0] < 100  # TABLESAMPLE read a share of the pages, not the window
    assert len(rows) == 200 and len({r[0] for r in rows}) == 200
    assert all(start <= ts < start + timedelta(days=1) for _, ts, _ in rows)
    assert all(isinstance(features, dict) and "plan" in features for _, _, features in rows)
    assert PredictionLog.objects.filter(request_id__in=[r[0] for r in rows], model_name="other-model").count() < 200


def test_a_small_window_is_sampled_exactly(direct, monkeypatch):
    start = datetime(2025, 4, 5, 0, 0, tzinfo=UTC)
    _log_window(300, start)
    monkeypatch.setattr(log_sample, "_sampled", lambda *a: pytest.fail("a small window must not be page-sampled"))

    window = PredictionLog.objects.filter(ts__gte=start, ts__lt=start + timedelta(hours=1))
    rows = window_sample(window, 1000, ("request_id",))

    assert sorted(r[0] for r in rows) == sorted(f"req-{i:06d}" for i in range(300))
