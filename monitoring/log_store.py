"""Storing prediction records: JSON payloads (log_codec's format: one record, or an array
of records) to PredictionLog rows, in one transaction, duplicates ignored. Shared by the
drain and the direct write path.

Two methods: "copy" (PostgreSQL) COPYs the raw JSON into a temporary table and runs one
INSERT ... SELECT ... ON CONFLICT DO NOTHING over its records (arrays unnested by
PostgreSQL), so Python never decodes them; "bulk" decodes and validates in Python and uses
bulk_create(ignore_conflicts=True). When the database refuses a batch, each record is
stored on its own and the bad ones are returned: the others are kept.
"""

import json
import math
from datetime import UTC, datetime
from typing import NamedTuple

from django.db import DataError, IntegrityError, connection, transaction

from .models import PredictionLog

COPY_THRESHOLD = 50  # "auto" uses COPY for batches at least this big (fewer round trips below)
BAD_DATA = (DataError, IntegrityError, ValueError)  # ValueError: JSON or validation, before the database


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
        method = "copy" if connection.vendor == "postgresql" and len(raws) >= COPY_THRESHOLD else "bulk"
    try:
        if method == "copy":
            if _copy_insert(raws):
                return []
        else:
            rows = [row_from_payload(data) for raw in raws for data in _records_of(json.loads(raw))]
            with transaction.atomic():
                PredictionLog.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
            return []
    except BAD_DATA:
        pass
    return _store_one_by_one(raws)


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def _store_one_by_one(raws: list[bytes]) -> list[Refusal]:
    refused = []
    with transaction.atomic():
        for index, raw in enumerate(raws):
            try:
                decoded = json.loads(raw)
            except ValueError as exc:
                refused.append(Refusal(index, _reason(exc), raw, "?"))
                continue
            for data in _records_of(decoded):
                try:
                    row = row_from_payload(data)
                    with transaction.atomic():
                        PredictionLog.objects.bulk_create([row], ignore_conflicts=True)
                except BAD_DATA as exc:
                    record = raw if not isinstance(decoded, list) else json.dumps(data).encode()
                    request_id = data.get("request_id") if isinstance(data, dict) else None
                    refused.append(Refusal(index, _reason(exc), record, str(request_id or "?")[:128]))
    return refused


_INCOMING = "prediction_log_incoming"
_VALID = """
    jsonb_typeof(p) = 'object'
    AND jsonb_typeof(p->'request_id') = 'string' AND length(p->>'request_id') BETWEEN 1 AND 128
    AND jsonb_typeof(p->'model_name') = 'string' AND length(p->>'model_name') BETWEEN 1 AND 128
    AND jsonb_typeof(p->'variant') = 'string' AND length(p->>'variant') BETWEEN 1 AND 32
    AND jsonb_typeof(p->'model_version') = 'number'
    AND jsonb_typeof(p->'latency_ms') = 'number'
    AND jsonb_typeof(p->'timestamp') = 'string'
    AND jsonb_typeof(p->'features') = 'object'
    AND coalesce(jsonb_typeof(p->'extra'), 'null') IN ('object', 'null')
    AND coalesce(jsonb_typeof(p->'deployment_id'), 'null') IN ('number', 'null')
"""
# The records of the incoming payloads: an array payload's elements, or the payload itself.
_RECORDS = f"""
    WITH records AS (
        SELECT r AS p FROM {_INCOMING},
        jsonb_array_elements(CASE WHEN jsonb_typeof(p) = 'array' THEN p ELSE jsonb_build_array(p) END) AS e(r)
    )
"""
_INSERT = f"""
    {_RECORDS}
    INSERT INTO {PredictionLog._meta.db_table}
        (request_id, model_name, model_version, variant, deployment_id, ts, features, prediction, latency_ms, extra)
    SELECT p->>'request_id', p->>'model_name', (p->>'model_version')::integer, p->>'variant',
           (p->>'deployment_id')::bigint, (p->>'timestamp')::timestamptz, p->'features',
           NULLIF(p->'prediction', 'null'::jsonb), (p->>'latency_ms')::double precision,
           coalesce(NULLIF(p->'extra', 'null'::jsonb), '{{}}'::jsonb)
    FROM records
    ON CONFLICT DO NOTHING
"""


def _copy_line(raw: bytes) -> bytes:
    # COPY's text format: backslash escapes, one row per line.
    return raw.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r").replace(b"\t", b"\\t") + b"\n"


def _copy_insert(raws: list[bytes]) -> bool:
    """COPY the raw JSON into a temporary table, then INSERT ... SELECT ... ON CONFLICT DO
    NOTHING: PostgreSQL parses the JSON, Python never decodes it. False (nothing stored) when a
    record does not have the expected shape; the caller then stores one by one."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_INCOMING} (p jsonb) ON COMMIT DELETE ROWS")
        cursor.execute(f"DELETE FROM {_INCOMING}")  # empty already, unless inside an outer transaction
        with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {_INCOMING} (p) FROM STDIN") as copy:
            copy.write(b"".join(map(_copy_line, raws)))
        cursor.execute(f"{_RECORDS} SELECT EXISTS (SELECT 1 FROM records WHERE NOT coalesce({_VALID}, false))")
        if cursor.fetchone()[0]:
            return False
        cursor.execute(_INSERT)
    return True


# --- One decoded record -> an unsaved row --------------------------------------------------


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


def row_from_payload(data) -> PredictionLog:
    """Validate one decoded record and build its (unsaved) row."""
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
    return PredictionLog(
        request_id=_text(data, "request_id", 128),
        model_name=_text(data, "model_name", 128),
        model_version=version,
        variant=_text(data, "variant", 32),
        deployment_id=_integer(data.get("deployment_id"), "deployment_id", null=True),
        ts=_timestamp(data.get("timestamp")),
        features=features,
        prediction=data.get("prediction"),
        latency_ms=float(latency),
        extra=extra,
    )
