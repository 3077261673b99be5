"""The labelled sample of the prediction log a trainer reads: every labelled row of the
window before the holdout starts (features as served, ground truth, timestamp), as Parquet."""

from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .log_reader import Window, read_chunk

CHUNK_ROWS = 50_000
LABEL, TIMESTAMP = "label", "ts"


def export_labelled(*, model_name: str, schema: list[dict], since: datetime, until: datetime, path: Path) -> int:
    """Write the rows to `path` (atomically), chunk by chunk. Returns the row count."""
    names = [c["name"] for c in schema]
    window = Window(model_name, since, until, labelled_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    writer, rows, after = None, 0, None
    try:
        while True:
            chunk = read_chunk(window, names, after=after, limit=CHUNK_ROWS)
            if not len(chunk.ids):
                break
            frame = pd.DataFrame({name: chunk.columns[name].reset_index(drop=True) for name in names})
            frame[LABEL] = chunk.ground_truth.reset_index(drop=True)
            frame[TIMESTAMP] = pd.to_datetime(chunk.ts, utc=True)
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table.cast(writer.schema))
            rows += len(chunk.ids)
            after = chunk.last
        if writer is None:
            empty = {name: pa.array([], pa.float64()) for name in names}
            pq.write_table(pa.table({**empty, LABEL: pa.array([], pa.string()), TIMESTAMP: pa.array([], pa.timestamp("us", tz="UTC"))}), tmp)
        else:
            writer.close()
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return rows
