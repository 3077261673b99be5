"""The prediction log's write path: `log_predictions(records)` is the one call serving makes.

Backend (settings.PREDICTION_LOG_BACKEND):
- redis (auto when REDIS_URL is set): XADD one payload per call (per 100 records; see
  log_codec) to the stream PREDICTION_STREAM, pipelined, MAXLEN ~ PREDICTION_STREAM_MAXLEN;
  `drain_predictions` moves them into
  PostgreSQL. If Redis cannot be reached the records are written to the database directly
  instead (and Redis is left alone for a few seconds), so a prediction never fails for it.
- direct (auto when embedded): one bulk INSERT, duplicates ignored.
Nothing here raises: a record that cannot be logged is counted and logged as an error.
"""

import logging
import threading
import time
from typing import NamedTuple

import redis
from django.conf import settings
from django.db import DatabaseError
from prometheus_client import Counter

from .log_codec import MAX_RECORDS_PER_PAYLOAD, encode, encode_many
from .log_store import store_payloads
from .records import PredictionRecord

logger = logging.getLogger(__name__)

STREAM_FIELD = "d"
REDIS_RETRY_SECONDS = 5.0  # after a Redis failure, write directly for this long before trying again
PIPELINE_CHUNK = 1000

LOGGED = Counter("control_plane_predictions_logged_total", "Prediction records handed to the log.", ["backend"])
DROPPED = Counter("control_plane_predictions_log_dropped_total", "Prediction records that could not be logged.")


# --- Backend choice and the shared Redis client ------------------------------------------

_clients: dict[tuple[str, bool], redis.Redis] = {}
_clients_lock = threading.Lock()
_redis_retry_at = 0.0


def active_backend() -> str:
    backend = settings.PREDICTION_LOG_BACKEND
    if backend == "auto":
        return "redis" if settings.REDIS_URL else "direct"
    return backend


def redis_client(*, blocking: bool = False) -> redis.Redis:
    """One client (and connection pool) per process. The serving client times out fast;
    the drain's (`blocking=True`) waits longer than its XREADGROUP BLOCK."""
    key = (settings.REDIS_URL, blocking)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = redis.Redis.from_url(
                    settings.REDIS_URL,
                    socket_connect_timeout=2.0 if blocking else 0.25,
                    socket_timeout=60.0 if blocking else 1.0,
                    health_check_interval=30,
                )
                _clients[key] = client
    return client


# --- The write path ------------------------------------------------------------------------


class Payload(NamedTuple):
    request_id: str  # the first record's, for error messages
    text: str
    records: int


def log_predictions(records: list[PredictionRecord]) -> None:
    """Append served predictions to the log. Cheap, never raises, never blocks for long."""
    global _redis_retry_at
    payloads = _encode_all(records)
    if not payloads:
        return
    if active_backend() == "redis" and time.monotonic() >= _redis_retry_at:
        try:
            _append_to_stream(payloads)
            LOGGED.labels("redis").inc(sum(p.records for p in payloads))
            return
        except redis.RedisError as exc:
            _redis_retry_at = time.monotonic() + REDIS_RETRY_SECONDS
            logger.warning("Prediction log: Redis unavailable (%s); writing %d record(s) directly.", exc,
                           sum(p.records for p in payloads))
    _write_direct(payloads)


def _encode_all(records: list[PredictionRecord]) -> list[Payload]:
    """[(first request id, JSON payload)]: one payload per MAX_RECORDS_PER_PAYLOAD records. A
    record that cannot be encoded is dropped (its neighbours are kept), not raised."""
    payloads = []
    for start in range(0, len(records), MAX_RECORDS_PER_PAYLOAD):
        group = records[start : start + MAX_RECORDS_PER_PAYLOAD]
        try:
            text = encode(group[0]) if len(group) == 1 else encode_many(group)
            payloads.append(Payload(group[0].request_id, text, len(group)))
            continue
        except Exception:  # noqa: BLE001, S110 - find the bad record(s) below, one by one
            pass
        for record in group:
            try:
                payloads.append(Payload(record.request_id, encode(record), 1))
            except Exception as exc:  # noqa: BLE001 - a malformed record must not fail the prediction it describes
                DROPPED.inc()
                logger.error("Prediction log: record %r dropped: %s: %s", getattr(record, "request_id", "?"),
                             type(exc).__name__, exc)
    return payloads


def _append_to_stream(payloads: list[Payload]) -> None:
    client = redis_client()
    stream, maxlen = settings.PREDICTION_STREAM, settings.PREDICTION_STREAM_MAXLEN
    if len(payloads) == 1:
        client.xadd(stream, {STREAM_FIELD: payloads[0].text}, maxlen=maxlen, approximate=True)
        return
    for start in range(0, len(payloads), PIPELINE_CHUNK):
        pipe = client.pipeline(transaction=False)
        for payload in payloads[start : start + PIPELINE_CHUNK]:
            pipe.xadd(stream, {STREAM_FIELD: payload.text}, maxlen=maxlen, approximate=True)
        pipe.execute()


def _write_direct(payloads: list[Payload]) -> int:
    """Insert now, in one transaction (a savepoint inside the caller's), duplicates ignored;
    answers how many records the database took."""
    records = sum(p.records for p in payloads)
    try:
        refused = store_payloads([payload.text.encode() for payload in payloads])
    except DatabaseError as exc:
        DROPPED.inc(records)
        logger.error("Prediction log: %d record(s) lost, the database is unavailable: %s", records, exc)
        return 0
    for refusal in refused:
        logger.error("Prediction log: record %r dropped: %s", refusal.request_id, refusal.reason)
    DROPPED.inc(len(refused))
    LOGGED.labels("direct").inc(records - len(refused))
    return records - len(refused)
