"""Batch scoring throughput: the kernel (serving/batch.py) alone, on a generated CSV with
the serving tests' schema (tenure_months, monthly_spend, support_tickets) and a
LogisticRegression, chunk by chunk as the Celery task runs it.

    python benchmarks/batch/bench_batch.py [--rows 1000000] [--chunk 50000] [--log redis|none]

--log redis (default) appends every scored row to this process's own Redis stream on
BENCH_REDIS_URL (db 15 by default), as serving does, and deletes the stream at the end;
--log none measures reading, validation, scoring and writing only. No database is used.
Not a test: it prints rows/s.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ["PREDICTION_LOG_BACKEND"] = "redis"
os.environ["PREDICTION_STREAM"] = f"bench-batch-{os.getpid()}"
os.environ["PREDICTION_STREAM_MAXLEN"] = "10000000"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

SCHEMA = [
    {"name": "tenure_months", "type": "double", "nullable": False},
    {"name": "monthly_spend", "type": "double", "nullable": False},
    {"name": "support_tickets", "type": "long", "nullable": False},
]


def generate(path: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    pd.DataFrame(
        {
            "tenure_months": rng.uniform(0, 60, rows).round(2),
            "monthly_spend": rng.uniform(10, 200, rows).round(2),
            "support_tickets": rng.integers(0, 10, rows),
        }
    ).to_csv(path, index=False)


def model():
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from registry.model_loading import LoadedModel

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "tenure_months": rng.uniform(0, 60, 300),
            "monthly_spend": rng.uniform(10, 200, 300),
            "support_tickets": rng.integers(0, 10, 300).astype("int64"),
        }
    )
    y = ((X["support_tickets"] > 4) | (X["tenure_months"] < 6)).astype(int)
    fitted = LogisticRegression(max_iter=500).fit(X, y)
    return LoadedModel("bench-model", 1, "sklearn", fitted, tuple(c["name"] for c in SCHEMA), True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--log", choices=("redis", "none"), default="redis")
    args = parser.parse_args()

    import django

    django.setup()
    from monitoring.prediction_log import redis_client
    from serving import batch

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = root / "input.csv"
        started = time.perf_counter()
        generate(source, args.rows)
        print(f"generated {args.rows:,} rows ({source.stat().st_size / 1e6:.1f} MB) in "
              f"{time.perf_counter() - started:.1f} s")
        spec = batch.BatchSpec(
            job_key="bench",
            input_path=source,
            output_path=root / "output.csv",
            errors_path=root / "output.errors.csv",
            work_dir=root / "parts",
            chunk_rows=args.chunk,
            loaded=model(),
            schema=SCHEMA,
            model_name="bench-model",
            model_version=1,
            log=args.log == "redis",
        )
        timings = []

        def progress(result: batch.ChunkResult) -> bool:
            timings.append(time.perf_counter())
            return True

        started = time.perf_counter()
        chunks, finished = batch.run(spec, on_chunk=progress)
        elapsed = time.perf_counter() - started
        with open(spec.output_path, "rb") as f:
            scored = sum(1 for _ in f) - 1
        assert finished and scored == args.rows, (finished, scored)
        if args.log == "redis":
            logged = redis_client().xlen(os.environ["PREDICTION_STREAM"])
            redis_client().delete(os.environ["PREDICTION_STREAM"])
        else:
            logged = 0
        print(f"scored {scored:,} rows in {chunks} chunks of {args.chunk:,}, log={args.log} "
              f"({logged:,} records logged): {elapsed:.1f} s, {batch.rows_per_second(scored, elapsed):,.0f} rows/s")


if __name__ == "__main__":
    main()
