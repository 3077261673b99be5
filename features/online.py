"""The online store: one Redis hash per (view, entity key) holding the feature values
(a null value is an absent field), `__ets` and `__cts` (event and created time, epoch
microseconds; -1 for no created time). Writes go through one Lua script that keeps the
newer (event, created) pair only, so a late, older row never replaces a newer one, under
any interleaving of writers. The TTL is enforced on read: a row older than the view's
TTL answers null with status outside_ttl. Keys expire in Redis KEEP_AFTER_TTL_SECONDS
after that (then they answer not_found), so the store does not grow with entities that
stopped being written. One script call writes up to ROWS_PER_CALL keys, so the store is
a single Redis server (not Redis Cluster, whose keys of one call must share a slot).

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

# KEYS: the hashes. ARGV per key: n, event us, created us, expire-at seconds, then n items
# (field, value, field, value...). Answers how many keys took their row (it was newer).
WRITE_NEWER = """
local at, written = 1, 0
for i = 1, #KEYS do
  local n = tonumber(ARGV[at])
  local ets, cts = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  local old = redis.call('HMGET', KEYS[i], '__ets', '__cts')
  local newer = true
  if old[1] then
    local oets, octs = tonumber(old[1]), tonumber(old[2])
    if ets < oets or (ets == oets and cts < octs) then newer = false end
  end
  if newer then
    redis.call('DEL', KEYS[i])
    redis.call('HSET', KEYS[i], '__ets', ARGV[at + 1], '__cts', ARGV[at + 2], unpack(ARGV, at + 4, at + 3 + n))
    redis.call('EXPIREAT', KEYS[i], ARGV[at + 3])
    written = written + 1
  end
  at = at + 4 + n
end
return written
"""
# A row past its TTL is kept this long more (answering outside_ttl, not not_found), then expires.
KEEP_AFTER_TTL_SECONDS = 7 * 86400
ROWS_PER_CALL = 100  # rows per EVALSHA: one script call is atomic, and cheaper than 100 calls

# KEYS: the hashes of one view; ARGV: the fields to read (ending with __ets). One reply per
# key: the values (nil where absent). One script call instead of a pipeline of HMGETs: the
# client packs and parses one command, which is most of the cost of reading 100 entities.
READ_MANY = """
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('HMGET', KEYS[i], unpack(ARGV))
end
return out
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


ENCODERS = {
    "int": str,
    "float": repr,
    "string": str,
    "bool": lambda v: "1" if v else "0",
    "timestamp": lambda v: str(micros(v)),
}


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
    """Pipelined EVALSHA writes, ROWS_PER_CALL rows per call; `add` rows then `flush`
    (answers how many rows were newer than what the store held)."""

    def __init__(self, conn: redis.Redis, prefix: str, view: str, features: list[tuple[str, str]], ttl_seconds: int):
        self.conn, self.prefix, self.view, self.ttl = conn, prefix, view, ttl_seconds
        self.names = [name for name, _ in features]
        self.encoders = [ENCODERS[kind] for _, kind in features]
        self.sha = conn.script_load(WRITE_NEWER)
        self.pipe = conn.pipeline(transaction=False)
        self.keys: list[str] = []
        self.argv: list = []
        self.calls = 0

    def add(self, key_values: tuple, event_us: int, created_us: int | None, values) -> None:
        texts = [None if value is None else encoder(value) for encoder, value in zip(self.encoders, values)]
        self.add_encoded(key_values, event_us, created_us, texts)

    def add_encoded(self, key_values: tuple, event_us: int, created_us: int | None, texts) -> None:
        """`add` for values already in the store's text form (None: null)."""
        items = [item for name, text in zip(self.names, texts) if text is not None for item in (name, text)]
        self.argv += (len(items), event_us, NO_CREATED if created_us is None else created_us,
                      event_us // 1_000_000 + self.ttl + KEEP_AFTER_TTL_SECONDS)
        self.argv += items
        self.keys.append(redis_key(self.prefix, self.view, key_values))
        if len(self.keys) >= ROWS_PER_CALL:
            self._call()

    def _call(self) -> None:
        self.pipe.execute_command("EVALSHA", self.sha, len(self.keys), *self.keys, *self.argv)
        self.keys, self.argv = [], []
        self.calls += 1

    def flush_batch(self):
        """Hand over what was added as one pipeline: a callable that writes it (answers how
        many rows were newer), so the caller may run it in another thread while it adds more."""
        if self.keys:
            self._call()
        pipe, calls = self.pipe, self.calls
        self.pipe, self.calls = self.conn.pipeline(transaction=False), 0
        return lambda: sum(pipe.execute()) if calls else 0

    def flush(self) -> int:
        try:
            return self.flush_batch()()
        except redis.exceptions.NoScriptError:  # Redis restarted and lost the script: the caller retries
            self.sha = self.conn.script_load(WRITE_NEWER)
            raise


_read_shas: dict[int, str] = {}


def _read_sha(conn: redis.Redis) -> str:
    sha = _read_shas.get(id(conn))
    if sha is None:
        sha = _read_shas[id(conn)] = conn.script_load(READ_MANY)
    return sha


def read(conn: redis.Redis, prefix: str, views: list, rows: list[tuple], now_us: int | None = None) -> list[dict]:
    """For each entity row (key values per view, in the order of `views`) and each view
    (an object with name, features [(name, type)] of the features wanted, ttl_seconds):
    {feature: (value, status, event_us)}. One round trip, one script call per view."""
    sha = _read_sha(conn)
    pipe = conn.pipeline(transaction=False)
    for index, view in enumerate(views):
        keys = [redis_key(prefix, view.name, row[index]) for row in rows]
        pipe.execute_command("EVALSHA", sha, len(keys), *keys, *[f for f, _ in view.features], ETS)
    try:
        per_view = pipe.execute()
    except redis.exceptions.NoScriptError:  # the server restarted: load the script again, once
        _read_shas.pop(id(conn), None)
        return read(conn, prefix, views, rows, now_us)
    now_us = now_us if now_us is not None else time.time_ns() // 1000
    out = []
    for row_index in range(len(rows)):
        answer = {}
        for view, replies in zip(views, per_view):
            reply = replies[row_index]
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
