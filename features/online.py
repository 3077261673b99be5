"""The online store: one Redis hash per (view, entity key) holding the feature values
(a null value is an absent field), `__ets` and `__cts` (event and created time, epoch
microseconds; -1 for no created time). Writes go through one Lua script that keeps the
newer (event, created) pair only, so a late, older row never replaces a newer one, under
any interleaving of writers. The TTL is enforced on read: a row older than the view's
TTL answers null with status outside_ttl. Keys expire in Redis a TTL after that, so the
store does not grow with entities that stopped being written.

No Django import: callers hand in plain ViewSource-like values (name, keys, features,
ttl_seconds), so the in-process client and the server share it."""

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import redis

ETS, CTS = "__ets", "__cts"
PRESENT, NOT_FOUND, OUTSIDE_TTL = "present", "not_found", "outside_ttl"
NO_CREATED = -1

# KEYS[1]: the hash. ARGV: event us, created us, expire-at seconds, then field, value pairs.
WRITE_NEWER = """
local old = redis.call('HMGET', KEYS[1], '__ets', '__cts')
local ets, cts = tonumber(ARGV[1]), tonumber(ARGV[2])
if old[1] then
  local oets, octs = tonumber(old[1]), tonumber(old[2])
  if ets < oets or (ets == oets and cts < octs) then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '__ets', ARGV[1], '__cts', ARGV[2], unpack(ARGV, 4))
redis.call('EXPIREAT', KEYS[1], ARGV[3])
return 1
"""

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def client(url: str) -> redis.Redis:
    found = _clients.get(url)
    if found is None:
        with _lock:
            found = _clients.get(url) or redis.Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=10.0)
            _clients[url] = found
    return found


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND = timedelta(microseconds=1)


def micros(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return (value - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + value * MICROSECOND


def key_text(values: tuple) -> str:
    return str(values[0]) if len(values) == 1 else json.dumps(list(values), separators=(",", ":"))


def redis_key(prefix: str, view: str, key_values: tuple) -> str:
    return f"{prefix}:{view}:{key_text(key_values)}"


def encode(value, kind: str) -> str | None:
    if value is None:
        return None
    if kind == "bool":
        return "1" if value else "0"
    if kind == "timestamp":
        return str(micros(value))
    if kind == "float":
        return repr(float(value))
    return str(value)


def decode(raw: bytes | None, kind: str):
    if raw is None:
        return None
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return raw == b"1"
    if kind == "timestamp":
        return from_micros(int(raw))
    return raw.decode()


class Writer:
    """Pipelined EVALSHA writes; `add` rows then `flush` (answers how many were newer)."""

    def __init__(self, conn: redis.Redis, prefix: str, view: str, features: list[tuple[str, str]], ttl_seconds: int):
        self.conn, self.prefix, self.view, self.features, self.ttl = conn, prefix, view, features, ttl_seconds
        self.script = conn.register_script(WRITE_NEWER)
        self.pipe = conn.pipeline(transaction=False)
        self.pending = 0

    def add(self, key_values: tuple, event_us: int, created_us: int | None, values: list) -> None:
        argv = [event_us, NO_CREATED if created_us is None else created_us, event_us // 1_000_000 + 2 * self.ttl]
        for (name, kind), value in zip(self.features, values):
            text = encode(value, kind)
            if text is not None:
                argv += (name, text)
        self.script(keys=[redis_key(self.prefix, self.view, key_values)], args=argv, client=self.pipe)
        self.pending += 1

    def flush(self) -> int:
        if not self.pending:
            return 0
        # redis-py's Script in a pipeline loads the script once (SCRIPT LOAD) and sends EVALSHA.
        written = sum(self.pipe.execute())
        self.pending = 0
        return written


def read(conn: redis.Redis, prefix: str, views: list, rows: list[tuple], now_us: int | None = None) -> list[dict]:
    """For each entity row (key values per view, in the order of `views`) and each view
    (an object with name, features [(name, type)] of the features wanted, ttl_seconds):
    {feature: (value, status, event_us)}. One round trip."""
    pipe = conn.pipeline(transaction=False)
    for row in rows:
        for view, key_values in zip(views, row):
            pipe.hmget(redis_key(prefix, view.name, key_values), [f for f, _ in view.features] + [ETS])
    replies = pipe.execute()
    now_us = now_us if now_us is not None else time.time_ns() // 1000
    out, at = [], 0
    for _row in rows:
        answer = {}
        for view in views:
            reply = replies[at]
            at += 1
            event = reply[-1]
            if event is None:
                for name, _ in view.features:
                    answer[name] = (None, NOT_FOUND, None)
                continue
            event_us = int(event)
            if now_us - event_us > view.ttl_seconds * 1_000_000:
                for name, _ in view.features:
                    answer[name] = (None, OUTSIDE_TTL, event_us)
                continue
            for (name, kind), raw in zip(view.features, reply):
                answer[name] = (decode(raw, kind), PRESENT, event_us)
        out.append(answer)
    return out
