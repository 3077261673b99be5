"""One pass of ours, in process (run by run.py with the project's interpreter and a bench
database). The same rows are two views: `bench_file`, a file source over the Parquet file
(DuckDB, like for like with Feast's DuckDB store on the same file), and `bench`, a table
source in PostgreSQL. Historical join of the entity frame on each, a full materialization
of each into Redis, then online reads of `bench` through the Python client in process.
Prints one JSON line."""

import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from benchmarks.features.generate import FEATURES, TTL_SECONDS  # noqa: E402
from features.client import FeatureStore  # noqa: E402
from features.historical import historical_chunks  # noqa: E402
from features.models import MaterializationRun  # noqa: E402
from features.resolve import resolve  # noqa: E402
from features.services import definitions_apply, materialization_execute, materialization_start  # noqa: E402

REFS = [f"bench:{f}" for f in FEATURES]
FILE_REFS = [f"bench_file:{f}" for f in FEATURES]


def load(data: Path) -> None:
    """The feature rows as a table source (loaded once per data set)."""
    frame = pd.read_parquet(data / "features.parquet")
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA IF NOT EXISTS feature_data")
        cursor.execute("DROP TABLE IF EXISTS feature_data.bench")
        columns = ", ".join(f"{f} double precision" for f in FEATURES)
        cursor.execute(f"CREATE TABLE feature_data.bench (user_id bigint, event_timestamp timestamptz, created timestamptz, {columns})")
        with cursor.copy("COPY feature_data.bench FROM STDIN (FORMAT csv)") as copy:
            copy.write(frame.to_csv(index=False, header=False, date_format="%Y-%m-%dT%H:%M:%S+00:00").encode())
        cursor.execute("ANALYZE feature_data.bench")
    view = {"entity": "user", "ttl": TTL_SECONDS, "features": [{"name": f, "type": "float"} for f in FEATURES],
            "event_timestamp_column": "event_timestamp", "created_timestamp_column": "created"}
    definitions_apply(actor=None, document={
        "entities": [{"name": "user", "join_keys": [{"name": "user_id", "type": "int"}]}],
        "feature_views": [
            {**view, "name": "bench", "source": {"kind": "table", "table": "feature_data.bench"}},
            {**view, "name": "bench_file", "source": {"kind": "file", "path": str(data / "features.parquet")}},
        ]})


def percentiles(samples: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(samples, 50)), 3), "p99_ms": round(float(np.percentile(samples, 99)), 3)}


def _historical(refs: list[str], entities: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    resolved = resolve(features=refs)
    started = time.perf_counter()
    frame = pd.concat(list(historical_chunks(resolved, entities)), ignore_index=True)
    return round(time.perf_counter() - started, 3), frame


def _materialize(conn: redis.Redis, view: str) -> tuple[float, int]:
    while True:
        keys = list(conn.scan_iter(f"{settings.FEATURE_ONLINE_PREFIX}:{view}:*", count=20_000))
        if not keys:
            break
        for i in range(0, len(keys), 10_000):
            conn.delete(*keys[i : i + 10_000])
    MaterializationRun.objects.filter(view__name=view).delete()
    run = materialization_start(actor=None, view_name=view, kind="backfill")
    started = time.perf_counter()
    materialization_execute(run.pk)  # in this process: the worker's code path without the queue
    seconds = round(time.perf_counter() - started, 3)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    return seconds, run.keys_written


def main(data: Path, out: Path, reads: int) -> dict:
    result = {}
    entities = pd.read_parquet(data / "entities.parquet")
    result["historical_s"], frame = _historical(FILE_REFS, entities)
    frame[["row_id"] + FEATURES].to_parquet(out, index=False)
    result["historical_warm_s"], _ = _historical(FILE_REFS, entities)  # the same call again in this process
    result["historical_pg_s"], frame = _historical(REFS, entities)
    frame[["row_id"] + FEATURES].to_parquet(out.with_suffix(".pg.parquet"), index=False)

    conn = redis.Redis.from_url(settings.FEATURE_ONLINE_REDIS_URL)
    result["materialize_s"], result["materialized_keys"] = _materialize(conn, "bench_file")
    result["materialize_pg_s"], _ = _materialize(conn, "bench")

    store = FeatureStore()
    users = entities["user_id"].unique().tolist()
    rng = random.Random(0)
    for size, name in ((100, "online_100"), (1, "online_1")):
        samples = []
        for i in range(reads + 50):
            rows = [{"user_id": u} for u in rng.sample(users, size)]
            started = time.perf_counter()
            store.get_online_features(features=REFS, entity_rows=rows).to_dict()
            if i >= 50:  # warm-up
                samples.append((time.perf_counter() - started) * 1000)
        result[name] = percentiles(samples)
    return result


if __name__ == "__main__":
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    if sys.argv[3:4] == ["--load"]:
        load(data)
        print(json.dumps({"loaded": True}))
    else:
        print(json.dumps(main(data, out, int(sys.argv[3]) if len(sys.argv) > 3 else 1000)))
