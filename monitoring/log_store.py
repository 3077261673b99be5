"""Storing prediction records: JSON payloads (log_codec's format: one record, or an array
of records) to PredictionLog rows, in one transaction, duplicates ignored. Shared by the
drain and the direct write path.

Two methods: "copy" (PostgreSQL) decodes and checks each record in Python (orjson) and
COPYs the rows straight into the table; when that meets a row stored already (a retried
batch: unique violation) it COPYs them into a temporary table instead and moves them with
INSERT ... SELECT ... ON CONFLICT DO NOTHING. "bulk" uses bulk_create(ignore_conflicts=True)
(any database). A record that fails the checks is refused and the others are stored; when
the database itself refuses the batch (a timestamp it cannot read...), each record is
stored on its own and the bad ones are returned.
"""

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import NamedTuple

import orjson
from django.db import DataError, IntegrityError, connection, transaction

from . import log_partitions
from .models import PredictionLog

BAD_DATA = (DataError, IntegrityError, ValueError)  # ValueError: JSON or validation, before the database
COPY_CHUNK = 200  # rows per write into the COPY stream: PostgreSQL parses one while Python encodes the next
UNIQUE_VIOLATION = "23505"
_NULL = "\\N"  # COPY's text format


class MalformedRecord(ValueError):
    pass


class Refusal(NamedTuple):
    index: int  # of the payload holding the record
    reason: str
    record: bytes  # the refused record alone (the whole payload when it is not JSON)
    request_id: str


def _records_of(decoded) -> list:
    return decoded if isinstance(decoded, list) else [decoded]


def store_payloads(raws: list[bytes], *, method: str = "auto") -> list[Refusal]:
    """Insert the payloads' records in one transaction; answers the records refused.
    Transient database errors (connection lost...) propagate: nothing was stored."""
    if not raws:
        return []
    if method == "auto":
        method = "copy" if connection.vendor == "postgresql" else "bulk"
    for attempt in (1, 2):
        try:
            if method == "copy":
                return _copy_insert(raws)
            rows = [row_from_payload(data) for raw in raws for data in _records_of(json.loads(raw))]
            with transaction.atomic():
                PredictionLog.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
            return []
        except BAD_DATA as exc:
            # A day without its partition yet (log_partitions): create it, then try again.
            if attempt == 1 and log_partitions.is_missing_partition(exc):
                if log_partitions.ensure_for_timestamps(_timestamps(raws), refresh=True):
                    continue
            break
    return _store_one_by_one(raws)


def _timestamps(raws: list[bytes]) -> Iterator[object]:
    for raw in raws:
        try:
            decoded = json.loads(raw)
        except ValueError:
            continue
        for data in _records_of(decoded):
            if isinstance(data, dict):
                yield data.get("timestamp")


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def _refusal(index: int, exc: Exception, raw: bytes, decoded, data) -> Refusal:
    record = raw if not isinstance(decoded, list) else json.dumps(data).encode()
    request_id = data.get("request_id") if isinstance(data, dict) else None
    return Refusal(index, _reason(exc), record, str(request_id or "?")[:128])


def _records(raws: list[bytes], refused: list[Refusal]) -> Iterator[tuple[int, bytes, object, object]]:
    """(payload index, payload, decoded payload, record) of every record; a payload that is not
    JSON goes to `refused` whole."""
    for index, raw in enumerate(raws):
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            try:  # what orjson refuses and json takes (integers beyond 64 bits, NaN...)
                decoded = json.loads(raw)
            except ValueError as exc:
                refused.append(Refusal(index, _reason(exc), raw, "?"))
                continue
        for data in _records_of(decoded):
            yield index, raw, decoded, data


def _store_one_by_one(raws: list[bytes]) -> list[Refusal]:
    refused: list[Refusal] = []
    with transaction.atomic():
        for index, raw, decoded, data in _records(raws, refused):
            try:
                row = row_from_payload(data)
                with transaction.atomic():
                    PredictionLog.objects.bulk_create([row], ignore_conflicts=True)
            except BAD_DATA as exc:
                refused.append(_refusal(index, exc, raw, decoded, data))
    return refused


# --- COPY ----------------------------------------------------------------------------------

_TABLE = PredictionLog._meta.db_table
_COLUMNS = "request_id, model_name, model_version, variant, deployment_id, ts, features, prediction, latency_ms, extra"
_INCOMING = "prediction_log_incoming_rows"


def _copy_insert(raws: list[bytes]) -> list[Refusal]:
    """COPY the checked records into the table in one transaction; answers the records the
    checks refused. Raises DataError/IntegrityError (nothing stored) when the database refuses
    a row the checks let through."""
    refused: list[Refusal] = []
    with transaction.atomic(), connection.cursor() as cursor:
        try:
            with transaction.atomic(), connection.wrap_database_errors:
                _copy(cursor, f"COPY {_TABLE} ({_COLUMNS}) FROM STDIN", _lines(raws, refused))
            return refused
        except IntegrityError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
        # Some rows are stored already (a retried batch, or a request id logged twice).
        refused.clear()
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_INCOMING} ON COMMIT DELETE ROWS AS "
            f"SELECT {_COLUMNS} FROM {_TABLE} WITH NO DATA"
        )
        cursor.execute(f"DELETE FROM {_INCOMING}")  # empty already, unless inside an outer transaction
        with connection.wrap_database_errors:
            _copy(cursor, f"COPY {_INCOMING} ({_COLUMNS}) FROM STDIN", _lines(raws, refused))
        cursor.execute(f"INSERT INTO {_TABLE} ({_COLUMNS}) SELECT {_COLUMNS} FROM {_INCOMING} ON CONFLICT DO NOTHING")
    return refused


def _copy(cursor, statement: str, lines: Iterator[str]) -> None:
    with cursor.cursor.copy(statement) as copy:
        chunk: list[str] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= COPY_CHUNK:
                copy.write("".join(chunk).encode())
                chunk.clear()
        if chunk:
            copy.write("".join(chunk).encode())


def _lines(raws: list[bytes], refused: list[Refusal]) -> Iterator[str]:
    """COPY text lines of the payloads' records; what fails the checks goes to `refused`."""
    for index, raw, decoded, data in _records(raws, refused):
        try:
            yield _line(data)
        except ValueError as exc:
            refused.append(_refusal(index, exc, raw, decoded, data))


def _escaped(text: str) -> str:
    # COPY's text format: backslash escapes; a tab separates columns, a newline rows.
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _json(value) -> str:
    try:
        text = orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits
        text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("\\", "\\\\") if "\\" in text else text  # JSON text holds no raw tab or newline


def _line(data) -> str:
    """One record as a COPY text line (its timestamp is read by PostgreSQL). The common case
    is checked inline (this runs for every row the drain stores); anything unusual goes
    through _checked, which names what is wrong."""
    get = data.get if type(data) is dict else None
    if get is not None:
        request_id, model, variant, timestamp = get("request_id"), get("model_name"), get("variant"), get("timestamp")
        version, deployment, latency = get("model_version"), get("deployment_id"), get("latency_ms")
        features, prediction, extra = get("features"), get("prediction"), get("extra")
        if (
            type(request_id) is str and 0 < len(request_id) <= 128 and type(model) is str and 0 < len(model) <= 128
            and type(variant) is str and 0 < len(variant) <= 32 and type(timestamp) is str
            and type(version) is int and 0 <= version < 2**31 and type(latency) is float and math.isfinite(latency)
            and (deployment is None or (type(deployment) is int and 0 <= deployment < 2**63))
            and type(features) is dict and (extra is None or type(extra) is dict)
        ):
            text = f"{request_id}\t{model}\t{variant}\t{timestamp}"
            if "\\" in text or "\n" in text or "\r" in text or text.count("\t") != 3:
                request_id, model, variant, timestamp = map(_escaped, (request_id, model, variant, timestamp))
            return (
                f"{request_id}\t{model}\t{version}\t{variant}\t{_NULL if deployment is None else deployment}"
                f"\t{timestamp}\t{_json(features)}\t{_NULL if prediction is None else _json(prediction)}"
                f"\t{latency!r}\t{_json(extra) if extra else '{}'}\n"
            )
    c = _checked(data)
    if not isinstance(c.timestamp, str):
        raise MalformedRecord("timestamp must be an ISO 8601 time.")
    deployment = _NULL if c.deployment_id is None else c.deployment_id
    prediction = _NULL if c.prediction is None else _json(c.prediction)
    return (
        f"{_escaped(c.request_id)}\t{_escaped(c.model_name)}\t{c.model_version}\t{_escaped(c.variant)}\t{deployment}"
        f"\t{_escaped(c.timestamp)}\t{_json(c.features)}\t{prediction}\t{c.latency_ms!r}\t{_json(c.extra)}\n"
    )


# --- One decoded record, checked -----------------------------------------------------------


class Checked(NamedTuple):
    request_id: str
    model_name: str
    model_version: int
    variant: str
    deployment_id: int | None
    timestamp: object  # as decoded
    features: dict
    prediction: object
    latency_ms: float
    extra: dict


def _text(data: dict, key: str, max_length: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise MalformedRecord(f"{key} must be a string of 1 to {max_length} characters.")
    return value


def _integer(value, key: str, *, null: bool = False) -> int | None:
    if value is None and null:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise MalformedRecord(f"{key} must be a non-negative integer.")
    return value


def _timestamp(value) -> datetime:
    try:
        ts = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise MalformedRecord("timestamp must be an ISO 8601 time.") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _checked(data) -> Checked:
    """The checks every stored record passes, whatever the method."""
    if not isinstance(data, dict):
        raise MalformedRecord("A record must be a JSON object.")
    latency = data.get("latency_ms")
    if isinstance(latency, bool) or not isinstance(latency, (int, float)) or not math.isfinite(latency):
        raise MalformedRecord("latency_ms must be a finite number.")
    features, extra = data.get("features"), data.get("extra") or {}
    if not isinstance(features, dict):
        raise MalformedRecord("features must be an object.")
    if not isinstance(extra, dict):
        raise MalformedRecord("extra must be an object.")
    version = _integer(data.get("model_version"), "model_version")
    if version >= 2**31:
        raise MalformedRecord("model_version is out of range.")
    return Checked(
        request_id=_text(data, "request_id", 128),
        model_name=_text(data, "model_name", 128),
        model_version=version,
        variant=_text(data, "variant", 32),
        deployment_id=_integer(data.get("deployment_id"), "deployment_id", null=True),
        timestamp=data.get("timestamp"),
        features=features,
        prediction=data.get("prediction"),
        latency_ms=float(latency),
        extra=extra,
    )


def row_from_payload(data) -> PredictionLog:
    """Validate one decoded record and build its (unsaved) row."""
    c = _checked(data)
    return PredictionLog(
        request_id=c.request_id, model_name=c.model_name, model_version=c.model_version, variant=c.variant,
        deployment_id=c.deployment_id, ts=_timestamp(c.timestamp), features=c.features, prediction=c.prediction,
        latency_ms=c.latency_ms, extra=c.extra,
    )
