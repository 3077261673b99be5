"""One pass of Feast 0.67 (run by run.py in its own venv): the same files, a FileSource over
the feature Parquet, the DuckDB offline store and the Redis online store. Historical join,
materialize, then online reads through Feast's Python SDK in process. Prints one JSON line.
Standalone: it must not import the project (its own venv has none of it)."""

import json
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import redis
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

FEATURES = [f"f{i}" for i in range(10)]


def percentiles(samples):
    return {"p50_ms": round(float(np.percentile(samples, 50)), 3), "p99_ms": round(float(np.percentile(samples, 99)), 3)}


def main(data: Path, out: Path, reads: int, ttl: int, redis_db: int) -> dict:
    repo = Path(tempfile.mkdtemp(prefix="feast-bench-"))
    (repo / "feature_store.yaml").write_text(
        "project: bench\n"
        f"registry: {repo / 'registry.db'}\n"
        "provider: local\n"
        "offline_store:\n  type: duckdb\n"
        f"online_store:\n  type: redis\n  connection_string: \"127.0.0.1:6379,db={redis_db}\"\n"
        "entity_key_serialization_version: 3\n"
    )
    redis.Redis(host="127.0.0.1", port=6379, db=redis_db).flushdb()  # this benchmark's own database
    store = FeatureStore(repo_path=str(repo))
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
    source = FileSource(path=str(data / "features.parquet"), timestamp_field="event_timestamp",
                        created_timestamp_column="created")
    view = FeatureView(name="bench", entities=[user], ttl=timedelta(seconds=ttl), source=source, online=True,
                       schema=[Field(name="user_id", dtype=Int64)] + [Field(name=f, dtype=Float64) for f in FEATURES])
    store.apply([user, view])
    refs = [f"bench:{f}" for f in FEATURES]
    entities = pd.read_parquet(data / "entities.parquet")
    result = {"repo": str(repo)}  # for `feast serve` (run.py's HTTP measurement)
    started = time.perf_counter()
    frame = store.get_historical_features(entity_df=entities, features=refs).to_df()
    result["historical_s"] = round(time.perf_counter() - started, 3)
    result["historical_rows"] = len(frame)
    frame[["row_id"] + FEATURES].to_parquet(out, index=False)
    started = time.perf_counter()
    store.get_historical_features(entity_df=entities, features=refs).to_df()  # the same call again in this process
    result["historical_warm_s"] = round(time.perf_counter() - started, 3)

    end = pd.Timestamp.now(tz="UTC").to_pydatetime()
    started = time.perf_counter()
    store.materialize(start_date=end - timedelta(days=61), end_date=end)
    result["materialize_s"] = round(time.perf_counter() - started, 3)

    users = entities["user_id"].unique().tolist()
    rng = random.Random(0)
    for size, name in ((100, "online_100"), (1, "online_1")):
        samples = []
        for i in range(reads + 50):
            rows = [{"user_id": u} for u in rng.sample(users, size)]
            started = time.perf_counter()
            store.get_online_features(features=refs, entity_rows=rows).to_dict()
            if i >= 50:
                samples.append((time.perf_counter() - started) * 1000)
        result[name] = percentiles(samples)
    return result


if __name__ == "__main__":
    data, out, reads, ttl, db = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    print(json.dumps(main(data, out, reads, ttl, db)))
