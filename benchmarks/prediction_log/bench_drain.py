"""Prediction log throughput: the serving-side append (XADD) and the drain into PostgreSQL,
with bulk_create(ignore_conflicts=True) and with COPY + INSERT ... SELECT ON CONFLICT DO NOTHING.

    python benchmarks/prediction_log/bench_drain.py [--rows 100000] [--batch 2000]

Uses PostgreSQL and Redis on 127.0.0.1 unless BENCH_DATABASE_URL / BENCH_REDIS_URL say
otherwise; the database `bench_prediction_log` is created (and migrated) when missing, the
Redis stream is this process's own and is deleted at the end. Not a test: it prints numbers.
"""

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_prediction_log")
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ["PREDICTION_LOG_BACKEND"] = "redis"
os.environ["PREDICTION_STREAM"] = f"bench-predictions-{os.getpid()}"
os.environ["PREDICTION_STREAM_MAXLEN"] = "10000000"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def ensure_database() -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    with psycopg.connect(DATABASE_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def records(n: int, offset: int = 0):
    from monitoring.records import PredictionRecord

    now = datetime.now(UTC)
    plans = ["basic", "pro", "team", "enterprise"]
    return [
        PredictionRecord(
            request_id=f"bench-{i:09d}",
            model_name="churn-predictor",
            model_version=3,
            variant="champion",
            timestamp=now,
            # 12 features, like PERFORMANCE.md's floor measurement
            features={
                "tenure_months": float(i % 72), "monthly_spend": 20.0 + (i % 300) / 3, "plan": plans[i % 4],
                "seats": i % 50, "support_tickets": i % 9, "logins_30d": (i * 7) % 90, "region": f"r{i % 12}",
                "nps": (i % 11) - 5, "discount": (i % 5) / 10, "autopay": bool(i % 2), "age_days": i % 4000,
                "last_invoice": 99.5 + i % 17,
            },
            prediction={"label": i % 2, "probability": (i % 100) / 100},
            latency_ms=1.0 + (i % 40) / 10,
            deployment_id=1,
        )
        for i in range(offset, offset + n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()

    ensure_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from monitoring.drain import drain_until_empty
    from monitoring.models import PredictionLog
    from monitoring.prediction_log import log_predictions, redis_client

    call_command("migrate", verbosity=0)
    client = redis_client()
    stream = settings.PREDICTION_STREAM
    table = PredictionLog._meta.db_table
    data = records(args.rows)
    print(f"{args.rows:,} records, 12 features each, drain batch {args.batch}; PostgreSQL {connection.pg_version}")

    # The serving side: one call per request (one record), then chunks of 1,000 (batch scoring).
    single = data[:5000]
    started = time.perf_counter()
    for record in single:
        log_predictions([record])
    per_call = (time.perf_counter() - started) / len(single) * 1e6
    client.delete(stream)
    print(f"log_predictions, one record per call: {per_call:,.0f} us per call")

    results = {}
    for method in ("bulk", "copy", "copy (all duplicates)"):
        if not method.endswith("duplicates)"):
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {table}")
        started = time.perf_counter()
        for start in range(0, len(data), 1000):
            log_predictions(data[start : start + 1000])
        appended = len(data) / (time.perf_counter() - started)
        started = time.perf_counter()
        drained = drain_until_empty(consumer="bench", batch=args.batch, method=method.split()[0])
        seconds = time.perf_counter() - started
        rows = PredictionLog.objects.count()
        assert drained == len(data) and rows == len(data), (drained, rows)
        results[method] = drained / seconds
        print(f"{method:>22}: append {appended:>9,.0f} rec/s   drain {drained / seconds:>9,.0f} rows/s "
              f"({seconds:.2f} s, {rows:,} rows in table)")
    client.delete(stream, stream + ":dead")
    print(f"COPY / bulk_create: {results['copy'] / results['bulk']:.2f}x")


if __name__ == "__main__":
    main()
