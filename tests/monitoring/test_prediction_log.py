"""The write path and the drain, in process, on the real PostgreSQL and Redis."""

import json
import logging
from datetime import UTC, datetime

import numpy as np
import pytest

from monitoring import log_store, prediction_log
from monitoring.drain import (
    DEAD_SUFFIX,
    GROUP,
    backlog,
    drain_once,
    drain_until_empty,
    ensure_group,
)
from monitoring.models import PredictionLog
from monitoring.prediction_log import log_predictions, redis_client

from .conftest import make_record

pytestmark = pytest.mark.django_db


def test_direct_mode_writes_rows(direct):
    served = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    log_predictions([make_record(1, timestamp=served), make_record(2, variant="shadow", version=2, deployment_id=None)])

    rows = {r.request_id: r for r in PredictionLog.objects.all()}
    assert set(rows) == {"req-000001", "req-000002"}
    first = rows["req-000001"]
    assert (first.model_name, first.model_version, first.variant, first.deployment_id) == ("churn-predictor", 1, "champion", 7)
    assert first.ts == served
    assert first.features == {"tenure_months": 1.0, "plan": "pro", "monthly_spend": 11.0}
    assert first.prediction == {"label": 1, "probability": 0.26}
    assert first.latency_ms == 1.5 and first.ground_truth is None and first.ground_truth_at is None
    assert rows["req-000002"].deployment_id is None and rows["req-000002"].variant == "shadow"


def test_auto_backend_follows_redis_url(settings):
    settings.PREDICTION_LOG_BACKEND = "auto"
    settings.REDIS_URL = ""
    assert prediction_log.active_backend() == "direct"
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    assert prediction_log.active_backend() == "redis"


def test_the_same_request_and_variant_logged_twice_is_one_row(direct):
    served = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # a record keeps the time it was served with
    log_predictions([make_record(1, timestamp=served), make_record(1, variant="shadow", timestamp=served)])
    # a retried record, and a duplicate inside one call
    log_predictions([make_record(1, timestamp=served), make_record(1, timestamp=served)])

    assert sorted(PredictionLog.objects.values_list("request_id", "variant")) == [
        ("req-000001", "champion"),
        ("req-000001", "shadow"),
    ]


def test_redis_mode_appends_to_the_stream_and_drain_stores_and_acknowledges(stream):
    log_predictions([make_record(i) for i in range(250)])  # a 250-row request: entries of 100, 100 and 50 records
    log_predictions([make_record(999)])  # the one-record fast path

    assert redis_client().xlen(stream) == 4
    assert not PredictionLog.objects.exists()  # nothing on the request path touched the database

    assert drain_once(consumer="t1", batch=1000) == 4

    assert PredictionLog.objects.count() == 251
    assert backlog() == {"length": 0, "pending": 0}
    assert drain_once(consumer="t1", batch=1000) == 0


@pytest.mark.parametrize("method", ["copy", "bulk"])
def test_both_insert_methods_store_the_same_rows_and_ignore_duplicates(stream, method):
    served = datetime.now(UTC)
    for i in range(30):
        log_predictions([make_record(i, timestamp=served)])
    # a 10-row request repeating records (the same time too): one entry
    log_predictions([make_record(i, timestamp=served) for i in range(10)])

    assert drain_until_empty(consumer="t1", batch=7, method=method) == 31

    assert PredictionLog.objects.count() == 30
    row = PredictionLog.objects.get(request_id="req-000003")
    assert row.features == make_record(3).features
    assert row.prediction == {"label": 1, "probability": 0.28}
    assert row.extra == {} and row.deployment_id == 7
    assert backlog() == {"length": 0, "pending": 0}


@pytest.mark.parametrize("backend", ["stream", "direct"])
def test_values_jsonb_refuses_are_cleaned_not_lost(request, backend):
    request.getfixturevalue(backend)
    odd = make_record(
        1,
        prediction=float("nan"),
        latency_ms=np.float32(2.5),
        note="nul\x00inside",
        scores=np.array([0.1, float("inf")]),
        n=np.int64(3),
    )
    log_predictions([odd])
    if backend == "stream":
        drain_until_empty(consumer="t1")

    row = PredictionLog.objects.get()
    assert row.prediction is None
    assert row.latency_ms == 2.5
    assert row.extra == {"note": "nul\ufffdinside", "scores": [0.1, None], "n": 3}


@pytest.mark.parametrize("method", ["copy", "bulk"])
def test_a_malformed_entry_is_dead_lettered_and_does_not_block_the_others(stream, method):
    client = redis_client()
    log_predictions([make_record(1)])
    client.xadd(stream, {"d": b"{not json"})
    bad_version = json.loads(prediction_log.encode(make_record(2)))
    bad_version["model_version"] = -1
    client.xadd(stream, {"d": json.dumps(bad_version)})
    too_long = json.loads(prediction_log.encode(make_record(3)))
    too_long["request_id"] = "x" * 200
    client.xadd(stream, {"d": json.dumps(too_long)})
    log_predictions([make_record(4)])

    assert drain_once(consumer="t1", batch=100, method=method) == 5

    assert sorted(PredictionLog.objects.values_list("request_id", flat=True)) == ["req-000001", "req-000004"]
    dead = client.xrange(stream + DEAD_SUFFIX)
    assert len(dead) == 3
    assert all(fields[b"reason"] for _, fields in dead)
    assert backlog() == {"length": 0, "pending": 0}


@pytest.mark.parametrize("method", ["copy", "bulk"])
def test_a_bad_record_inside_a_request_entry_is_dead_lettered_alone(stream, method):
    client = redis_client()
    records = [json.loads(prediction_log.encode(make_record(i))) for i in range(5)]
    records[2]["latency_ms"] = "slow"
    client.xadd(stream, {"d": json.dumps(records)})

    assert drain_once(consumer="t1", batch=100, method=method) == 1

    stored = sorted(PredictionLog.objects.values_list("request_id", flat=True))
    assert stored == ["req-000000", "req-000001", "req-000003", "req-000004"]
    (_, dead), = client.xrange(stream + DEAD_SUFFIX)
    assert json.loads(dead[b"d"])["request_id"] == "req-000002" and b"latency_ms" in dead[b"reason"]
    assert backlog() == {"length": 0, "pending": 0}


def test_a_request_is_one_entry_and_every_row_a_record(stream):
    log_predictions([make_record(i, request_id=f"big-{i}") for i in range(100)])

    (_, fields), = redis_client().xrange(stream)
    assert [r["request_id"] for r in json.loads(fields[b"d"])] == [f"big-{i}" for i in range(100)]
    drain_until_empty(consumer="t1")
    assert PredictionLog.objects.filter(request_id__startswith="big-").count() == 100


def test_entries_left_pending_by_a_vanished_consumer_are_claimed(stream):
    client = redis_client()
    for i in range(20):
        log_predictions([make_record(i)])
    ensure_group(client, stream)
    client.xreadgroup(GROUP, "crashed", {stream: ">"}, count=8)  # delivered, never acknowledged
    assert client.xpending(stream, GROUP)["pending"] == 8

    # Not idle long enough yet: only the 12 undelivered entries are taken.
    assert drain_once(consumer="t2", batch=100, claim_idle_ms=60_000) == 12
    assert client.xpending(stream, GROUP)["pending"] == 8
    assert drain_once(consumer="t2", batch=100, claim_idle_ms=0) == 8

    assert PredictionLog.objects.count() == 20
    assert backlog() == {"length": 0, "pending": 0}


def test_a_consumer_rereads_its_own_pending_entries_first(stream):
    client = redis_client()
    for i in range(10):
        log_predictions([make_record(i)])
    ensure_group(client, stream)
    client.xreadgroup(GROUP, "t1", {stream: ">"}, count=4)  # "t1" died holding these

    assert drain_once(consumer="t1", batch=100, claim_idle_ms=60_000) == 4
    assert drain_once(consumer="t1", batch=100) == 6
    assert PredictionLog.objects.count() == 10


def test_redis_down_falls_back_to_a_direct_write(stream, settings, monkeypatch, caplog):
    monkeypatch.setattr(prediction_log, "_redis_retry_at", 0.0)
    settings.REDIS_URL = "redis://127.0.0.1:1/15"  # nothing listens there

    with caplog.at_level(logging.WARNING, logger="monitoring.prediction_log"):
        log_predictions([make_record(1)])
        log_predictions([make_record(2)])  # within the retry window: straight to the database

    assert sorted(PredictionLog.objects.values_list("request_id", flat=True)) == ["req-000001", "req-000002"]
    assert sum("Redis unavailable" in r.message for r in caplog.records) == 1


@pytest.mark.parametrize("backend", ["stream", "direct"])
def test_a_record_that_cannot_be_logged_is_dropped_without_failing_the_caller(request, backend, caplog):
    request.getfixturevalue(backend)
    broken = make_record(3)
    object.__setattr__(broken, "features", {("not", "a", "string"): 1})  # json refuses tuple keys

    with caplog.at_level(logging.ERROR, logger="monitoring.prediction_log"):
        log_predictions([make_record(1, request_id="r" * 300), make_record(2), broken])
    if backend == "stream":
        drain_until_empty(consumer="t1")

    assert list(PredictionLog.objects.values_list("request_id", flat=True)) == ["req-000002"]
    if backend == "direct":
        assert sum("dropped" in r.message for r in caplog.records) == 2


def test_nothing_to_log_is_a_no_op(stream):
    log_predictions([])
    assert redis_client().exists(stream) == 0


def test_copy_keeps_text_copy_would_misread_exactly(stream, monkeypatch):
    def no_fallback(raws):
        raise AssertionError("the batch fell back to one-by-one inserts")

    monkeypatch.setattr(log_store, "_store_one_by_one", no_fallback)
    odd = make_record(1, request_id="tab\there\\back\nline\rcr", note='quote " back \\ tab \t nl \n')
    odd.features["path"] = "C:\\models\\v1"
    log_predictions([odd, make_record(2)])

    assert drain_until_empty(consumer="t1", method="copy") == 1

    row = PredictionLog.objects.get(request_id="tab\there\\back\nline\rcr")
    assert row.features["path"] == "C:\\models\\v1"
    assert row.extra == {"note": 'quote " back \\ tab \t nl \n'}
    assert PredictionLog.objects.count() == 2


def test_a_retried_batch_is_stored_once_through_the_conflict_path(stream):
    served = datetime.now(UTC)
    log_predictions([make_record(i, timestamp=served) for i in range(5)])
    drain_until_empty(consumer="t1", method="copy")
    log_predictions([make_record(i, timestamp=served) for i in range(3, 8)])  # 3 and 4 are stored already

    assert drain_until_empty(consumer="t1", method="copy") == 1

    assert sorted(PredictionLog.objects.values_list("request_id", flat=True)) == [f"req-{i:06d}" for i in range(8)]


def test_a_timestamp_the_database_cannot_read_is_dead_lettered_alone(stream):
    client = redis_client()
    records = [json.loads(prediction_log.encode(make_record(i))) for i in range(3)]
    records[1]["timestamp"] = "the day after tomorrow"
    client.xadd(stream, {"d": json.dumps(records)})

    assert drain_once(consumer="t1", batch=100, method="copy") == 1

    assert sorted(PredictionLog.objects.values_list("request_id", flat=True)) == ["req-000000", "req-000002"]
    (_, dead), = client.xrange(stream + DEAD_SUFFIX)
    assert json.loads(dead[b"d"])["request_id"] == "req-000001"
