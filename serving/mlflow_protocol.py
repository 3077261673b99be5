"""MLflow's scoring protocol (what `mlflow models serve` accepts at /invocations):
JSON with one of dataframe_split, dataframe_records, instances or inputs, or CSV with a
header row. Everything becomes a list of {feature: value} rows."""

import csv
import io

from .json_body import parse_json
from .validation import INTEGRAL, NUMERIC

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class ProtocolError(ValueError):
    pass


def parse(request, schema: list[dict]) -> list[dict]:
    content_type = (request.content_type or "application/json").split(";")[0].strip().lower()
    if content_type == "text/csv":
        return _from_csv(request.body.decode("utf-8", errors="replace"), schema)
    if content_type != "application/json":
        raise ProtocolError(f"Content type {content_type!r} is not supported; send application/json or text/csv.")
    try:
        body = parse_json(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"Malformed JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise ProtocolError("The body must be a JSON object with one of " + ", ".join(FORMATS) + ".")
    given = [key for key in FORMATS if key in body]
    if len(given) != 1:
        raise ProtocolError("Send exactly one of " + ", ".join(FORMATS) + f"; got {given or list(body)}.")
    return _rows(given[0], body[given[0]], schema)


def _rows(kind: str, data, schema: list[dict]) -> list[dict]:
    names = [c["name"] for c in schema]
    if kind == "dataframe_split":
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise ProtocolError("dataframe_split needs {'columns': [...], 'data': [[...], ...]}.")
        columns = data.get("columns") or names
        return [dict(zip(columns, values)) if isinstance(values, list) else values for values in data["data"]]
    if kind == "inputs" and isinstance(data, dict):
        lengths = {len(v) if isinstance(v, list) else 1 for v in data.values()}
        if len(lengths) != 1:
            raise ProtocolError("inputs given as columns must all have the same length.")
        count = lengths.pop()
        return [{k: (v[i] if isinstance(v, list) else v) for k, v in data.items()} for i in range(count)]
    if not isinstance(data, list):
        raise ProtocolError(f"{kind} must be a list of rows.")
    return [dict(zip(names, row)) if isinstance(row, list) else row for row in data]


def _convert(value: str, kind: str):
    if value == "":
        return None
    try:
        if kind in NUMERIC:
            return float(value)
        if kind in INTEGRAL:
            return int(float(value)) if float(value).is_integer() else float(value)
        if kind == "boolean":
            return {"true": True, "false": False, "1": True, "0": False}.get(value.strip().lower(), value)
    except ValueError:
        return value  # left as text so validation names the field
    return value


def _from_csv(text: str, schema: list[dict]) -> list[dict]:
    types = {c["name"]: c["type"] for c in schema}
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ProtocolError("The CSV body needs a header row naming the features.")
    return [{k: _convert(v, types.get(k, "string")) for k, v in row.items()} for row in reader]


def answer(predictions: list) -> list:
    """What `mlflow models serve` answers: a classifier's labels, or every class's
    probability when the model declares predict_proba; other values as they are."""
    return [_mlflow_value(p) for p in predictions]


def _mlflow_value(prediction):
    if isinstance(prediction, dict):
        if "probabilities" in prediction:
            return prediction["probabilities"]
        if "label" in prediction:
            return prediction["label"]
    return prediction
