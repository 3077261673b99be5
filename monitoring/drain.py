"""The drain: moves prediction records from the Redis stream into PostgreSQL.

At-least-once delivery with an idempotent insert gives exactly one row per record:
- a consumer group hands each entry to one consumer and keeps it pending until acked;
- a batch is inserted in one transaction with ON CONFLICT DO NOTHING on
  (request_id, model_name, variant), and acknowledged (then deleted from the stream)
  only after that transaction commits;
- a drainer killed between insert and ack leaves its batch pending: the same consumer
  re-reads its own pending entries when it starts again, and any other consumer claims
  entries left idle longer than `claim_idle_ms` (XAUTOCLAIM). Re-inserting them is a no-op.
A record the database refuses (malformed JSON, a value out of range) goes to the dead-letter
stream `<stream>:dead` with the reason (and its entry's id), so it can never block the
entries behind it; the other records of its entry are stored.
"""

import logging
import time

import redis
from django.conf import settings

from .log_store import store_payloads
from .prediction_log import DROPPED, STREAM_FIELD, redis_client

logger = logging.getLogger(__name__)

GROUP = "prediction-log"
DEAD_SUFFIX = ":dead"
DEAD_MAXLEN = 100_000

Entry = tuple[bytes, bytes | None]  # (stream id, payload; None: the entry holds none)
Dead = tuple[bytes, str, bytes]  # (stream id, reason, payload)


def drain_once(
    *,
    consumer: str,
    batch: int | None = None,
    block_ms: int = 0,
    claim_idle_ms: int = 60_000,
    method: str = "auto",
    pause_after_insert_ms: int = 0,
) -> int:
    """Store one batch and acknowledge it; answers how many entries were settled (0: none
    waiting). An entry holds one record, or the rows of one request (log_codec).

    Reads, in order: this consumer's own pending entries (a previous run died holding them),
    entries idle in another consumer for `claim_idle_ms` or more, then new entries (waiting up
    to `block_ms` for some). `method` is "copy" (PostgreSQL only), "bulk" (bulk_create) or
    "auto". `pause_after_insert_ms` is a test aid: it holds the batch between commit and ack.
    """
    client = redis_client(blocking=True)
    stream = settings.PREDICTION_STREAM
    entries = _read(client, stream, consumer, batch or settings.PREDICTION_DRAIN_BATCH, block_ms, claim_idle_ms)
    if not entries:
        return 0
    payloads: list[tuple[bytes, bytes]] = []
    for entry_id, raw in entries:
        if raw is None:  # trimmed by MAXLEN before it was drained (or not ours): nothing to store
            DROPPED.labels("trimmed").inc()
            logger.error("Prediction log: stream entry %s holds no record (trimmed before it was drained?).",
                         entry_id.decode())
            continue
        payloads.append((entry_id, raw))
    refused = store_payloads([raw for _, raw in payloads], method=method)
    dead: list[Dead] = [(payloads[r.index][0], r.reason, r.record) for r in refused]
    if pause_after_insert_ms > 0:
        logger.warning("Pausing %d ms between commit and acknowledgement (test aid).", pause_after_insert_ms)
        time.sleep(pause_after_insert_ms / 1000)
    _acknowledge(client, stream, [entry_id for entry_id, _ in entries], dead)
    return len(entries)


def drain_until_empty(*, consumer: str, batch: int | None = None, max_seconds: float | None = None, **options) -> int:
    """Drain batches until none is waiting (or `max_seconds` have passed); answers the entries settled."""
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    total = 0
    while deadline is None or time.monotonic() < deadline:
        settled = drain_once(consumer=consumer, batch=batch, block_ms=0, **options)
        if not settled:
            break
        total += settled
    return total


def backlog() -> dict:
    """{length: entries in the stream, pending: delivered but not yet acknowledged}."""
    client = redis_client(blocking=True)
    stream = settings.PREDICTION_STREAM
    try:
        pending = client.xpending(stream, GROUP)["pending"]
    except redis.ResponseError:  # no stream or no group yet
        pending = 0
    return {"length": client.xlen(stream), "pending": pending}


# --- Reading ------------------------------------------------------------------------------


def ensure_group(client: redis.Redis, stream: str) -> None:
    try:
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _read(client, stream, consumer, batch, block_ms, claim_idle_ms) -> list[Entry]:
    try:
        return _read_entries(client, stream, consumer, batch, block_ms, claim_idle_ms)
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
    ensure_group(client, stream)
    return _read_entries(client, stream, consumer, batch, block_ms, claim_idle_ms)


_FIELD = STREAM_FIELD.encode()
_raw_clients: dict[int, redis.Redis] = {}


def _raw_replies(client: redis.Redis) -> redis.Redis:
    """The same connection pool, with XREADGROUP's replies left as Redis sends them: redis-py
    would build a dict per entry, a measurable share of the drain's time."""
    raw = _raw_clients.get(id(client.connection_pool))
    if raw is None:
        raw = redis.Redis(connection_pool=client.connection_pool)
        raw.set_response_callback("XREADGROUP", lambda response, **options: response)
        _raw_clients[id(client.connection_pool)] = raw
    return raw


def _payload(fields) -> bytes | None:
    if fields and len(fields) == 2 and fields[0] == _FIELD:
        return fields[1]
    pairs = dict(zip(fields[::2], fields[1::2], strict=False)) if fields else {}
    return pairs.get(_FIELD)


def _xreadgroup(client, stream, consumer, start, batch, block=None) -> list[Entry]:
    reply = _raw_replies(client).xreadgroup(GROUP, consumer, {stream: start}, count=batch, block=block)
    if not reply:
        return []
    if isinstance(reply, dict):  # RESP3
        reply = list(reply.items())
    return [(entry_id, _payload(fields)) for entry_id, fields in reply[0][1]]


def _read_entries(client, stream, consumer, batch, block_ms, claim_idle_ms) -> list[Entry]:
    pending = _xreadgroup(client, stream, consumer, "0", batch)
    if pending:
        return pending
    if claim_idle_ms >= 0:
        _next, claimed, _deleted = client.xautoclaim(
            stream, GROUP, consumer, min_idle_time=claim_idle_ms, start_id="0-0", count=batch
        )
        if claimed:
            logger.warning("Prediction log: claimed %d entries left pending by another consumer.", len(claimed))
            return [(entry_id, (fields or {}).get(_FIELD)) for entry_id, fields in claimed]
    return _xreadgroup(client, stream, consumer, ">", batch, block_ms if block_ms > 0 else None)


def _acknowledge(client: redis.Redis, stream: str, ids: list[bytes], dead: list[Dead]) -> None:
    """Dead-letter, ack and delete in one MULTI, so a crash cannot dead-letter an entry twice."""
    pipe = client.pipeline(transaction=True)
    for entry_id, reason, raw in dead:
        logger.error("Prediction log: entry %s dead-lettered: %s", entry_id.decode(), reason)
        pipe.xadd(stream + DEAD_SUFFIX, {"id": entry_id, "reason": reason, STREAM_FIELD: raw},
                  maxlen=DEAD_MAXLEN, approximate=True)
    pipe.xack(stream, GROUP, *ids)
    pipe.xdel(stream, *ids)
    pipe.execute()
    if dead:
        DROPPED.labels("dead_letter").inc(len(dead))
