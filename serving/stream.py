"""Stream scoring: consume a Redis stream with a consumer group, score each message's
row, write the result to an output stream, log the prediction (variant "stream").

Message format on the input stream: field `row` holds the row as a JSON object of
feature: value; an optional `request_id` field names the prediction (default
"<input stream>-<message id>", so a message delivered twice logs once).

Delivery is at least once: a message is acknowledged (XACK) in the same MULTI/EXEC as
its result's XADD, after its prediction was logged. A consumer starts with its own
pending messages (those it read before a crash), and claims messages other consumers
left pending longer than `claim_idle_ms`. A malformed message (not JSON, not an
object, failing the serving schema) goes to "<input>:dead" with the reason, and is
acknowledged.
"""

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis
from django.utils import timezone

from monitoring.prediction_log import log_predictions
from monitoring.records import PredictionRecord
from registry.model_loading import load_version
from registry.models import ModelVersion

from .router import routing_table
from .scoring import score
from .validation import validate_rows

logger = logging.getLogger(__name__)


class StreamError(Exception):
    pass


def _served_at(input_stream: str, message_id: str, request_id: str) -> datetime:
    """A stream prediction's time: when its message entered the input stream (the milliseconds
    in a Redis stream id), taken from the request id when that names a message of this stream
    (the default request id, or a producer sending a message again under its first id). So a
    message scored twice logs the same (request_id, model, variant, ts) twice, which the
    prediction log's unique key stores once (the key includes ts: the log is partitioned by day)."""
    source = request_id.removeprefix(f"{input_stream}-") if request_id.startswith(f"{input_stream}-") else message_id
    for candidate in (source, message_id):
        milliseconds, _, sequence = candidate.partition("-")
        if milliseconds.isdigit() and sequence.isdigit():
            return datetime.fromtimestamp(int(milliseconds) / 1000, tz=UTC)
    return timezone.now()


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@dataclass
class StreamStats:
    scored: int = 0
    dead: int = 0
    reads: int = 0
    errors: list = field(default_factory=list)


class StreamScorer:
    def __init__(
        self,
        client: redis.Redis,
        *,
        model_name: str,
        input_stream: str,
        output_stream: str,
        group: str,
        consumer: str,
        version: int | None = None,
        count: int = 100,
        block_ms: int = 1000,
        claim_idle_ms: int = 60_000,
        output_maxlen: int | None = None,
    ):
        self.client = client
        self.model_name, self.version_number = model_name, version
        self.input, self.output, self.dead = input_stream, output_stream, f"{input_stream}:dead"
        self.group, self.consumer = group, consumer
        self.count, self.block_ms, self.claim_idle_ms = count, block_ms, claim_idle_ms
        self.output_maxlen = output_maxlen
        self.stats = StreamStats()
        self._own_pending_done = False

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.input, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # --- Which version scores -------------------------------------------------------------

    def _version(self) -> tuple[ModelVersion, int | None]:
        if self.version_number is not None:
            version = (
                ModelVersion.objects.select_related("model")
                .filter(model__name=self.model_name, version=self.version_number)
                .first()
            )
            if version is None:
                raise StreamError(f"Model '{self.model_name}' has no version {self.version_number}.")
            return version, None
        route = routing_table.route(self.model_name)
        if route is None:
            raise StreamError(f"Model '{self.model_name}' has nothing in Production or deployed.")
        return route.champion, route.deployment_id

    # --- Reading ----------------------------------------------------------------------------

    def _read(self, block: bool) -> list[tuple[str, dict]]:
        """Own pending messages first (after a restart), then others' stale ones, then new."""
        if not self._own_pending_done:
            answer = self.client.xreadgroup(self.group, self.consumer, {self.input: "0"}, count=self.count)
            messages = answer[0][1] if answer else []
            if messages:
                return messages
            self._own_pending_done = True
        if self.claim_idle_ms:
            try:
                claimed = self.client.xautoclaim(self.input, self.group, self.consumer, self.claim_idle_ms,
                                                 start_id="0-0", count=self.count)
                if claimed and claimed[1]:
                    return [m for m in claimed[1] if m[1] is not None]
            except redis.ResponseError:  # Redis before 6.2: no XAUTOCLAIM
                self.claim_idle_ms = 0
        answer = self.client.xreadgroup(self.group, self.consumer, {self.input: ">"}, count=self.count,
                                        block=self.block_ms if block else None)
        return answer[0][1] if answer else []

    # --- One batch --------------------------------------------------------------------------

    def _parse(self, message_id: str, fields: dict, schema: list[dict]) -> tuple[dict | None, str]:
        raw = fields.get(b"row", fields.get("row"))
        if raw is None:
            return None, "the message has no 'row' field"
        try:
            row = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return None, f"'row' is not JSON: {exc}"
        if not isinstance(row, dict):
            return None, "'row' must be a JSON object of feature: value"
        problems = validate_rows([row], schema) if schema else []
        if problems:
            return None, "; ".join(f"{p['field'] or 'row'} {p['problem']}" for p in problems)
        return row, ""

    def process(self, messages: list[tuple]) -> int:
        """Score, write, log and acknowledge one read's messages; answers how many."""
        if not messages:
            return 0
        version, deployment_id = self._version()
        schema = version.input_schema or []
        good, dead = [], []
        for message_id, fields in messages:
            message_id, fields = _text(message_id), fields or {}
            row, reason = self._parse(message_id, fields, schema)
            if row is None:
                dead.append((message_id, fields, reason))
            else:
                request_id = _text(fields.get(b"request_id", fields.get("request_id", ""))) or f"{self.input}-{message_id}"
                good.append((message_id, request_id, row))
        predictions = []
        if good:
            started = time.perf_counter()
            try:
                loaded = load_version(version)
                predictions = score(loaded, [row for _, _, row in good])
            except Exception as exc:  # noqa: BLE001  (the model cannot answer: these go to the dead letters too)
                reason = f"v{version.version} failed to score: {type(exc).__name__}: {exc}"
                dead.extend((mid, {"row": json.dumps(row)}, reason) for mid, _, row in good)
                good, predictions = [], []
            latency_ms = (time.perf_counter() - started) * 1000 / max(len(good), 1)
            log_predictions(
                [
                    PredictionRecord(
                        request_id=request_id,
                        model_name=self.model_name,
                        model_version=version.version,
                        variant="stream",
                        timestamp=_served_at(self.input, message_id, request_id),
                        features=row,
                        prediction=prediction,
                        latency_ms=latency_ms,
                        deployment_id=deployment_id,
                        extra={"stream": self.input, "message_id": message_id},
                    )
                    for (message_id, request_id, row), prediction in zip(good, predictions)
                ]
            )
        pipe = self.client.pipeline(transaction=True)
        for (message_id, request_id, _), prediction in zip(good, predictions):
            pipe.xadd(
                self.output,
                {
                    "request_id": request_id,
                    "source_id": message_id,
                    "model": self.model_name,
                    "version": version.version,
                    "prediction": json.dumps(prediction),
                },
                maxlen=self.output_maxlen,
                approximate=True,
            )
        for message_id, fields, reason in dead:
            payload = {_text(k): _text(v) for k, v in fields.items()}
            pipe.xadd(self.dead, {"source_id": message_id, "reason": reason[:2000], "payload": json.dumps(payload)})
        pipe.xack(self.input, self.group, *[_text(m[0]) for m in messages])
        pipe.execute()
        self.stats.scored += len(good)
        self.stats.dead += len(dead)
        return len(messages)

    def run(self, *, max_messages: int | None = None, stop_when_idle: bool = False, should_stop=lambda: False) -> StreamStats:
        self.ensure_group()
        handled = 0
        while not should_stop():
            messages = self._read(block=not stop_when_idle)
            self.stats.reads += 1
            if not messages:
                if stop_when_idle:
                    break
                continue
            handled += self.process(messages)
            if max_messages is not None and handled >= max_messages:
                break
        return self.stats
