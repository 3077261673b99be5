"""The batch-scoring kernel: read a CSV or Parquet file in chunks, validate each row
against the version's serving schema, score the valid rows, write one part file per
chunk (and the invalid rows' reasons to an errors part), log every scored row with
variant "batch", and at the end concatenate the parts into the output file.

No Django models here: the job's bookkeeping (progress, cancellation, the resume
point) is the caller's `on_chunk` callback, so the benchmark runs the kernel alone.

Resume: chunk k always covers input rows [k * chunk_rows, (k + 1) * chunk_rows), and
its part file is written atomically (temporary file, then rename), so re-running from
the last committed chunk rewrites at most one part with identical content; the
prediction log ignores duplicate (request_id, model, variant) rows.
"""

import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.utils import timezone

from monitoring.prediction_log import log_predictions
from monitoring.records import PredictionRecord
from registry.model_loading import LoadedModel

from .validation import INTEGRAL, NUMERIC, validate_rows

PARQUET_SUFFIXES = (".parquet", ".pq")
ERROR_COLUMNS = ["row", "request_id", "field", "problem"]


class BatchInputError(Exception):
    """The input file cannot be scored at all (unreadable, a schema column missing...)."""


def file_format(path: str | Path) -> str:
    return "parquet" if Path(path).suffix.lower() in PARQUET_SUFFIXES else "csv"


def count_rows(path: str | Path, fmt: str) -> int:
    """Rows in the file: Parquet's metadata, or a CSV's newlines minus the header (a quoted
    newline inside a value overcounts; the job's total is corrected at the end)."""
    try:
        if fmt == "parquet":
            return pq.ParquetFile(path).metadata.num_rows
        lines, last = 0, b"\n"
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                lines += block.count(b"\n")
                last = block[-1:]
        if last != b"\n":
            lines += 1
        return max(lines - 1, 0)
    except (OSError, pa.ArrowException) as exc:
        raise BatchInputError(f"Cannot read {path}: {exc}") from exc


@dataclass
class BatchSpec:
    job_key: str  # request ids are f"{job_key}-{row}"
    input_path: Path
    output_path: Path
    errors_path: Path
    work_dir: Path  # part files
    chunk_rows: int
    loaded: LoadedModel
    schema: list[dict]
    model_name: str
    model_version: int
    input_format: str = "csv"
    deployment_id: int | None = None
    log: bool = True
    extra: dict = field(default_factory=dict)
    # The time every logged row carries: fixed per job, so a chunk scored again after a crash
    # logs the same (request_id, model, variant, ts) and is stored once (the log's unique key).
    logged_at: datetime | None = None

    @property
    def output_format(self) -> str:
        return file_format(self.output_path)


@dataclass
class ChunkResult:
    index: int
    rows: int
    scored: int
    invalid: int  # rows, not problems


# --- Reading -------------------------------------------------------------------------------


def _csv_chunks(spec: BatchSpec, start_chunk: int) -> Iterator[pd.DataFrame]:
    names = [c["name"] for c in spec.schema]
    skip = range(1, start_chunk * spec.chunk_rows + 1) if start_chunk else None
    try:
        reader = pd.read_csv(spec.input_path, chunksize=spec.chunk_rows, skiprows=skip, low_memory=False,
                             usecols=lambda c: c in names)
        yield from reader
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise BatchInputError(f"Cannot read {spec.input_path} as CSV: {exc}") from exc


def _parquet_chunks(spec: BatchSpec, start_chunk: int) -> Iterator[pd.DataFrame]:
    """Exactly chunk_rows rows per chunk (Parquet's batches stop at row groups)."""
    try:
        source = pq.ParquetFile(spec.input_path)
        wanted = [c["name"] for c in spec.schema if c["name"] in source.schema_arrow.names]
        skip = start_chunk * spec.chunk_rows
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        for batch in source.iter_batches(batch_size=spec.chunk_rows, columns=wanted):
            if skip:
                if batch.num_rows <= skip:
                    skip -= batch.num_rows
                    continue
                batch, skip = batch.slice(skip), 0
            pending.append(batch)
            pending_rows += batch.num_rows
            while pending_rows >= spec.chunk_rows:
                table = pa.Table.from_batches(pending)
                yield table.slice(0, spec.chunk_rows).to_pandas()
                rest = table.slice(spec.chunk_rows)
                pending, pending_rows = rest.to_batches(), rest.num_rows
        if pending_rows:
            yield pa.Table.from_batches(pending).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise BatchInputError(f"Cannot read {spec.input_path} as Parquet: {exc}") from exc


def read_chunks(spec: BatchSpec, start_chunk: int = 0) -> Iterator[pd.DataFrame]:
    chunks = _parquet_chunks if spec.input_format == "parquet" else _csv_chunks
    yield from chunks(spec, start_chunk)


# --- One chunk -----------------------------------------------------------------------------


def _typed_columns(frame: pd.DataFrame, schema: list[dict]) -> tuple[pd.DataFrame, dict[int, list]]:
    """Columns converted to the schema's types where the file's own typing differs (a CSV
    column with one bad value is read as text): values that do not convert are problems."""
    problems: dict[int, list] = {}
    missing = [c["name"] for c in schema if c["name"] not in frame.columns]
    if missing:
        raise BatchInputError(f"The input has no column(s) {missing}; the serving schema needs them.")
    typed = {}
    for column in schema:
        name, kind = column["name"], column["type"]
        values = frame[name]
        if (kind in NUMERIC or kind in INTEGRAL) and values.dtype == object:
            converted = pd.to_numeric(values, errors="coerce")
            bad = converted.isna() & values.notna()
            for pos in np.flatnonzero(bad.to_numpy()):
                problems.setdefault(int(pos), []).append(
                    (name, f"must be a number ({kind}), got {values.iat[pos]!r}"))
            values = converted
        elif kind == "boolean" and values.dtype == object:
            lowered = values.map(lambda v: v.strip().lower() if isinstance(v, str) else v)
            values = lowered.map(lambda v: {"true": True, "false": False}.get(v, v) if isinstance(v, str) else v)
        elif kind in ("string", "binary") and values.dtype != object:
            values = values.map(lambda v: v if pd.isna(v) else str(v))
        elif kind == "datetime" and pd.api.types.is_datetime64_any_dtype(values):
            values = values.map(lambda v: None if pd.isna(v) else v.isoformat())
        typed[name] = values
    return pd.DataFrame(typed, index=frame.index), problems


def _rows(typed: pd.DataFrame) -> list[dict]:
    plain = typed.astype(object).where(typed.notna(), None)
    return plain.to_dict("records")


def _predict(loaded: LoadedModel, frame: pd.DataFrame) -> dict[str, list]:
    """Output columns for the valid rows: label and probability for classifiers with
    probabilities (as /predict answers), else prediction."""
    if loaded.has_proba and hasattr(loaded.model, "classes_"):
        proba = np.asarray(loaded.predict_proba(frame))
        best = proba.argmax(axis=1)
        labels = np.asarray(loaded.model.classes_)[best]
        return {"label": labels, "probability": proba[np.arange(len(best)), best].astype(float)}
    values = loaded.predict(frame)
    if hasattr(values, "to_dict"):
        values = values.to_dict(orient="records") if hasattr(values, "columns") else values.tolist()
    return {"prediction": list(values) if not isinstance(values, np.ndarray) else values}


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def score_chunk(spec: BatchSpec, index: int, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scored rows, error lines) of one chunk; logs the scored rows."""
    started = time.perf_counter()
    first_row = index * spec.chunk_rows
    frame = frame.reset_index(drop=True)
    typed, problems = _typed_columns(frame, spec.schema)
    rows = _rows(typed)
    converted = {(pos, name) for pos, found in problems.items() for name, _ in found}
    for p in validate_rows(rows, spec.schema):
        if (p["row"], p["field"]) not in converted:  # a value that did not convert is reported once
            problems.setdefault(p["row"], []).append((p["field"], p["problem"]))
    invalid = np.zeros(len(rows), dtype=bool)
    if problems:
        invalid[list(problems)] = True
    valid_positions = np.flatnonzero(~invalid)
    row_numbers = first_row + valid_positions
    request_ids = [f"{spec.job_key}-{n}" for n in row_numbers]
    out = pd.DataFrame({"request_id": pd.Series(request_ids, dtype=object), "row": row_numbers.astype("int64")})
    if len(valid_positions):
        valid = typed.iloc[valid_positions].reset_index(drop=True)
        for column in spec.schema:
            if column["type"] in INTEGRAL:
                valid[column["name"]] = valid[column["name"]].astype("int64")
        predictions = _predict(spec.loaded, valid)
        for name, values in predictions.items():
            out[name] = values
    else:
        out["label" if spec.loaded.has_proba else "prediction"] = pd.Series([], dtype=object)
    errors = pd.DataFrame(
        [
            (first_row + pos, f"{spec.job_key}-{first_row + pos}", name or "", problem)
            for pos in sorted(problems)
            for name, problem in problems[pos]
        ],
        columns=ERROR_COLUMNS,
    )
    if spec.log and len(valid_positions):
        per_row_ms = (time.perf_counter() - started) * 1000 / max(len(rows), 1)
        _log(spec, out, [rows[i] for i in valid_positions], per_row_ms)
    return out, errors


def _log(spec: BatchSpec, out: pd.DataFrame, features: list[dict], per_row_ms: float) -> None:
    now = spec.logged_at or timezone.now()
    if "label" in out.columns and "probability" in out.columns:
        predictions = [{"label": _plain(label), "probability": float(p)}
                       for label, p in zip(out["label"].tolist(), out["probability"].tolist())]
    else:
        predictions = [_plain(v) for v in out[[c for c in out.columns if c not in ("request_id", "row")][0]]]
    extra = spec.extra
    log_predictions(
        [
            PredictionRecord(
                request_id=request_id,
                model_name=spec.model_name,
                model_version=spec.model_version,
                variant="batch",
                timestamp=now,
                features=row,
                prediction=prediction,
                latency_ms=per_row_ms,
                deployment_id=spec.deployment_id,
                extra=extra,
            )
            for request_id, row, prediction in zip(out["request_id"].tolist(), features, predictions)
        ]
    )


# --- Part files ------------------------------------------------------------------------------


def part_path(spec: BatchSpec, index: int) -> Path:
    suffix = ".parquet" if spec.output_format == "parquet" else ".csv"
    return spec.work_dir / f"part-{index:06d}{suffix}"


def errors_part_path(spec: BatchSpec, index: int) -> Path:
    return spec.work_dir / f"errors-{index:06d}.csv"


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_part(spec: BatchSpec, index: int, out: pd.DataFrame, errors: pd.DataFrame) -> None:
    """Errors first, the part last: the part's existence means the whole chunk is on disk."""
    spec.work_dir.mkdir(parents=True, exist_ok=True)
    errors_path = errors_part_path(spec, index)
    if len(errors):
        _write_atomic(errors_path, lambda p: errors.to_csv(p, index=False, header=False))
    elif errors_path.exists():
        errors_path.unlink()
    if spec.output_format == "parquet":
        _write_atomic(part_path(spec, index), lambda p: out.to_parquet(p, index=False))
    else:
        _write_atomic(part_path(spec, index), lambda p: out.to_csv(p, index=False, header=False))


def finish(spec: BatchSpec, chunks: int, columns: list[str]) -> None:
    """Concatenate the parts into the output and the errors file, then remove them."""
    spec.output_path.parent.mkdir(parents=True, exist_ok=True)
    parts = [part_path(spec, i) for i in range(chunks)]
    missing = [p.name for p in parts if not p.exists()]
    if missing:
        raise BatchInputError(f"Part files {missing[:5]} are missing; the job cannot be completed.")
    if spec.output_format == "parquet":
        def write(tmp: Path) -> None:
            writer = None
            for part in parts:
                table = pq.read_table(part)
                if table.num_rows == 0:
                    continue
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table.cast(writer.schema))
            if writer is None:
                pq.write_table(pa.table({c: pa.array([], pa.string()) for c in columns}), tmp)
            else:
                writer.close()
    else:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as target:
                target.write((",".join(columns) + "\n").encode())
                for part in parts:
                    with open(part, "rb") as source:
                        shutil.copyfileobj(source, target, 1 << 20)
    _write_atomic(spec.output_path, write)

    def write_errors(tmp: Path) -> None:
        with open(tmp, "wb") as target:
            target.write((",".join(ERROR_COLUMNS) + "\n").encode())
            for i in range(chunks):
                if errors_part_path(spec, i).exists():
                    with open(errors_part_path(spec, i), "rb") as source:
                        shutil.copyfileobj(source, target, 1 << 20)

    _write_atomic(spec.errors_path, write_errors)
    for i in range(chunks):
        part_path(spec, i).unlink(missing_ok=True)
        errors_part_path(spec, i).unlink(missing_ok=True)


def output_columns(loaded: LoadedModel) -> list[str]:
    if loaded.has_proba and hasattr(loaded.model, "classes_"):
        return ["request_id", "row", "label", "probability"]
    return ["request_id", "row", "prediction"]


def run(
    spec: BatchSpec,
    *,
    start_chunk: int = 0,
    on_chunk: Callable[[ChunkResult], bool] | None = None,
    max_chunks: int | None = None,
) -> tuple[int, bool]:
    """Score chunks from start_chunk on; after each chunk's part is on disk, on_chunk
    commits it and answers whether to go on. Answers (chunks on disk, finished), and
    when every chunk is done, writes the output and errors files."""
    index = start_chunk
    for frame in read_chunks(spec, start_chunk):
        if max_chunks is not None and index - start_chunk >= max_chunks:
            return index, False
        out, errors = score_chunk(spec, index, frame)
        write_part(spec, index, out, errors)
        result = ChunkResult(index, len(frame), len(out), int(errors["row"].nunique()) if len(errors) else 0)
        index += 1
        if on_chunk is not None and not on_chunk(result):
            return index, False
    finish(spec, index, output_columns(spec.loaded))
    return index, True


def rows_per_second(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else math.inf
