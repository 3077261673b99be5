"""The prediction log's wire format, the same in the Redis stream and on the direct path:
a payload is one record as a compact JSON object, or several records (the rows of one
request) as a JSON array of such objects, at most MAX_RECORDS_PER_PAYLOAD. One payload per
request keeps a 100-row request at one XADD instead of a hundred. No Django import.

Values PostgreSQL's jsonb refuses (NaN, infinity, the NUL character) are replaced on the
way in, so a record can never poison a drain batch: non-finite numbers become null, NUL
becomes U+FFFD. numpy scalars and arrays become plain numbers and lists.
"""

import json
import math
from datetime import date, datetime
from decimal import Decimal

import orjson

from .records import PredictionRecord

FIELDS = ("request_id", "model_name", "model_version", "variant", "timestamp", "features", "prediction",
          "latency_ms", "deployment_id", "extra")


def _default(value):
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _clean(value):
    """The slow path: walk the value, replacing what jsonb refuses."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_clean(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, (bool, int)):
        return value
    return _clean(_default(value))


def _dumps(data) -> str:
    """orjson when it can (several times faster; it writes NaN and infinity as null, which is
    what _clean would make of them); json for what orjson refuses (keys that are not strings,
    integers beyond 64 bits), which raises on NaN so the caller cleans."""
    try:
        return orjson.dumps(data, default=_default, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except TypeError:
        return json.dumps(data, separators=(",", ":"), allow_nan=False, default=_default)


MAX_RECORDS_PER_PAYLOAD = 100


def _data(record: PredictionRecord, timestamp: str | None = None) -> dict:
    return {
        "request_id": record.request_id,
        "model_name": record.model_name,
        "model_version": record.model_version,
        "variant": record.variant,
        "timestamp": timestamp or record.timestamp.isoformat(),
        "features": record.features,
        "prediction": record.prediction,
        "latency_ms": record.latency_ms,
        "deployment_id": record.deployment_id,
        "extra": record.extra,
    }


def encode(record: PredictionRecord) -> str:
    data = _data(record)
    try:
        text = _dumps(data)
    except ValueError:  # NaN or infinity somewhere
        text = ""
    if not text or "\\u0000" in text:
        text = _dumps(_clean(data))
    return text


def encode_many(records: list[PredictionRecord]) -> str:
    """Several records as one JSON array (one stream entry)."""
    stamps = {t: t.isoformat() for t in {record.timestamp for record in records}}  # a request's rows share one
    try:
        text = _dumps([_data(record, stamps[record.timestamp]) for record in records])
    except ValueError:  # NaN or infinity somewhere: clean record by record
        text = ""
    if not text or "\\u0000" in text:
        text = "[" + ",".join(encode(record) for record in records) + "]"
    return text
