"""The prediction log's write path: `log_predictions(records)` is the one call serving makes.

Backend (settings.PREDICTION_LOG_BACKEND):
- redis (auto when REDIS_URL is set): one payload per call (per 100 records; see log_codec)
  appended to the stream PREDICTION_STREAM in one round trip (XADD, pipelined; LOG_SCRIPT when
  the client named the request id); `drain_predictions` moves them into PostgreSQL. While PREDICTION_STREAM_MAXLEN records wait
  in the stream, or when Redis cannot be reached, the records are written to the database
  directly instead (Redis is then left alone for a few seconds): never trimmed unseen.
- direct (auto when embedded): one bulk INSERT, duplicates ignored.
Nothing here raises. Every record that could not be stored is counted in
control_plane_predictions_log_dropped_total{reason} and logged as an error (see
docs/security-egress.md, "What can be lost when Redis or a worker dies").

A client-supplied request id (`request_key`) is remembered for REQUEST_ID_TTL_SECONDS with the
hash of its request body (SET NX in the same script call as the append): the same id with
another body is a conflict, with the same body a retry, logged once.
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
DROPPED = Counter(
    "control_plane_predictions_log_dropped_total",
    "Prediction records that could not be stored, by reason: encode (not serialisable), database "
    "(direct write failed), refused (the database refused the record), trimmed (gone from the stream "
    "before it was drained), dead_letter (moved to <stream>:dead), shadow_busy (shadow copy not "
    "scored: pool full), unexpected (any other error on the write path).",
    ["reason"],
)

LOGGED_, RETRY, CONFLICT = "logged", "retry", "conflict"
# KEYS: stream, request-id key ("" when none). ARGV: maxlen, body hash, ttl, payloads...
# Answers "retry" / "conflict" (a request id seen before), "full", or "added".
LOG_SCRIPT = """
if KEYS[2] ~= '' then
    local previous = redis.call('SET', KEYS[2], ARGV[2], 'NX', 'GET', 'EX', ARGV[3])
    if previous then
        if previous == ARGV[2] then return 'retry' end
        return 'conflict'
    end
end
if redis.call('XLEN', KEYS[1]) + #ARGV - 3 > tonumber(ARGV[1]) then return 'full' end
for i = 4, #ARGV do redis.call('XADD', KEYS[1], '*', 'd', ARGV[i]) end
return 'added'
"""


class RequestKey(NamedTuple):
    """A client-supplied request id of one model, and the hash of the body it came with."""

    model_name: str
    request_id: str
    body_hash: str

    @property
    def redis_key(self) -> str:
        return f"{settings.PREDICT_REQUEST_ID_PREFIX}:{self.model_name}:{self.request_id}"


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


def log_predictions(records: list[PredictionRecord], *, request_key: RequestKey | None = None) -> str:
    """Append served predictions to the log. Cheap, never raises, never blocks for long.
    Answers "logged", or for a `request_key` seen before "retry" (nothing logged again) or
    "conflict" (another body: nothing logged)."""
    try:
        return _log(records, request_key)
    except Exception as exc:  # noqa: BLE001 - a prediction never fails for its log; the loss is counted
        DROPPED.labels("unexpected").inc(len(records))
        logger.error("Prediction log: %d record(s) lost: %s: %s", len(records), type(exc).__name__, exc)
        return LOGGED_


def _log(records: list[PredictionRecord], request_key: RequestKey | None) -> str:
    global _redis_retry_at
    payloads = _encode_all(records)
    if not payloads:
        return LOGGED_
    if active_backend() == "redis" and time.monotonic() >= _redis_retry_at:
        try:
            outcome = _append_to_stream(payloads, request_key)
            if outcome in (RETRY, CONFLICT):
                return outcome
            if outcome == "added":
                LOGGED.labels("redis").inc(sum(p.records for p in payloads))
                return LOGGED_
            logger.warning("Prediction log: %d records wait in the stream (PREDICTION_STREAM_MAXLEN); "
                           "writing directly.", settings.PREDICTION_STREAM_MAXLEN)
            request_key = None  # remembered by the script already
        except redis.RedisError as exc:
            _redis_retry_at = time.monotonic() + REDIS_RETRY_SECONDS
            logger.warning("Prediction log: Redis unavailable (%s); writing %d record(s) directly.", exc,
                           sum(p.records for p in payloads))
    if request_key is not None and settings.REDIS_URL:
        outcome = _remember_request_id(request_key)
        if outcome in (RETRY, CONFLICT):
            return outcome
    _write_direct(payloads)
    return LOGGED_


def _remember_request_id(key: RequestKey) -> str:
    """The direct backend's request-id check: one SET NX GET. Without Redis the check is skipped
    (a prediction never fails for it)."""
    try:
        previous = redis_client().set(key.redis_key, key.body_hash, nx=True, get=True,
                                      ex=settings.PREDICT_REQUEST_ID_TTL_SECONDS)
    except redis.RedisError as exc:
        logger.warning("Prediction log: request id %r not checked, Redis unavailable (%s).", key.request_id, exc)
        return LOGGED_
    if previous is None:
        return LOGGED_
    return RETRY if previous.decode() == key.body_hash else CONFLICT


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
                DROPPED.labels("encode").inc()
                logger.error("Prediction log: record %r dropped: %s: %s", getattr(record, "request_id", "?"),
                             type(exc).__name__, exc)
    return payloads


_scripts: dict[int, "redis.commands.core.Script"] = {}
_stream_full = False  # the last look at the stream's length found PREDICTION_STREAM_MAXLEN waiting
_length_checked_at = 0.0


def _append_to_stream(payloads: list[Payload], request_key: RequestKey | None) -> str:
    if request_key is not None:
        return _append_with_request_id(payloads, request_key)
    return _append_plain(payloads)


def _append_plain(payloads: list[Payload]) -> str:
    """XADD in one pipelined round trip; at most every PREDICTION_STREAM_LENGTH_CHECK_SECONDS the
    same round trip also reads the stream's length. Once it is at the cap, records go to the
    database directly until a (bare) XLEN finds room again: nothing is trimmed unseen."""
    global _stream_full, _length_checked_at
    client, stream = redis_client(), settings.PREDICTION_STREAM
    now = time.monotonic()
    due = now - _length_checked_at >= settings.PREDICTION_STREAM_LENGTH_CHECK_SECONDS
    if _stream_full:
        if not due:
            return "full"
        _length_checked_at = now
        _stream_full = client.xlen(stream) >= settings.PREDICTION_STREAM_MAXLEN
        if _stream_full:
            return "full"
        due = False
    if len(payloads) == 1 and not due:  # the common case: one request, one XADD
        client.xadd(stream, {STREAM_FIELD: payloads[0].text})
        return "added"
    for start in range(0, len(payloads), PIPELINE_CHUNK):
        pipe = client.pipeline(transaction=False)
        if due and not start:
            pipe.xlen(stream)
        for payload in payloads[start : start + PIPELINE_CHUNK]:
            pipe.xadd(stream, {STREAM_FIELD: payload.text})
        answers = pipe.execute()
        if due and not start:
            _length_checked_at = now
            _stream_full = answers[0] + len(payloads) >= settings.PREDICTION_STREAM_MAXLEN
    return "added"


def _append_with_request_id(payloads: list[Payload], request_key: RequestKey) -> str:
    """A client-supplied request id: LOG_SCRIPT remembers it and appends in one round trip."""
    client = redis_client()
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(LOG_SCRIPT)
    keys = [settings.PREDICTION_STREAM, request_key.redis_key]
    head = [settings.PREDICTION_STREAM_MAXLEN, request_key.body_hash, settings.PREDICT_REQUEST_ID_TTL_SECONDS]
    for start in range(0, len(payloads), PIPELINE_CHUNK):
        chunk = [payload.text for payload in payloads[start : start + PIPELINE_CHUNK]]
        answer = script(keys=keys, args=[*head, *chunk]).decode()
        if answer != "added":
            if start:  # part of a huge call is in the stream: the rest goes directly
                _write_direct(payloads[start:])
                return "added"
            return answer
        keys[1], head[1] = "", ""  # the request id is remembered by the first chunk
    return "added"


def _write_direct(payloads: list[Payload]) -> int:
    """Insert now, in one transaction (a savepoint inside the caller's), duplicates ignored;
    answers how many records the database took."""
    records = sum(p.records for p in payloads)
    try:
        refused = store_payloads([payload.text.encode() for payload in payloads])
    except DatabaseError as exc:
        DROPPED.labels("database").inc(records)
        logger.error("Prediction log: %d record(s) lost, the database is unavailable: %s", records, exc)
        return 0
    for refusal in refused:
        logger.error("Prediction log: record %r dropped: %s", refusal.request_id, refusal.reason)
    DROPPED.labels("refused").inc(len(refused))
    LOGGED.labels("direct").inc(records - len(refused))
    return records - len(refused)
