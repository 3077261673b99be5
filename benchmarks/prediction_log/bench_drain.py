"""Prediction log throughput: the serving-side append (XADD) and the drain into PostgreSQL,
against a raw `COPY` of the same rows into the same table, in the same run.

    python benchmarks/prediction_log/bench_drain.py [--rows 100000] [--batch 2000] [--passes 3]

Two shapes of stream entry: "one-row" (what serving produces for one-row requests: one record
per entry) and "100-record" (a 100-row request: one entry of 100 records). Each pass runs, per
shape, the drain and then a raw COPY of the same rows (built before the clock starts) into the
emptied table with all its indexes; passes alternate, so the ratio drain / COPY is read within
one pass. Rates count rows (records), not entries.

Uses PostgreSQL and Redis on 127.0.0.1 unless BENCH_DATABASE_URL / BENCH_REDIS_URL say
otherwise; the database `bench_prediction_log` is created (and migrated) when missing, the
Redis stream is this process's own and is deleted at the end. Not a test: it prints numbers.
"""

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import configure, ensure_database  # noqa: E402

DATABASE_URL = configure("bench_prediction_log", "bench-predictions")

COLUMNS = "(request_id, model_name, model_version, variant, deployment_id, ts, features, prediction, latency_ms, extra)"


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


def copy_text(data) -> bytes:
    """The rows in COPY's text format, built with the standard json module (not timed)."""
    import json

    def js(value):
        return json.dumps(value, separators=(",", ":")).replace("\\", "\\\\")

    return "".join(
        f"{r.request_id}\t{r.model_name}\t{r.model_version}\t{r.variant}\t{r.deployment_id}\t{r.timestamp.isoformat()}"
        f"\t{js(r.features)}\t{js(r.prediction)}\t{r.latency_ms!r}\t{js(r.extra)}\n"
        for r in data
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=None, help="Entries per drain batch (default: the setting).")
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()

    ensure_database(DATABASE_URL)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    from monitoring.drain import drain_until_empty
    from monitoring.models import PredictionLog
    from monitoring.prediction_log import _append_to_stream, _encode_all, log_predictions, redis_client

    call_command("migrate", verbosity=0)
    client = redis_client()
    stream = settings.PREDICTION_STREAM
    table = PredictionLog._meta.db_table
    data = records(args.rows)
    raw = copy_text(data)
    batch = args.batch or settings.PREDICTION_DRAIN_BATCH
    print(f"{args.rows:,} records, 12 features each, drain batch {batch} entries; PostgreSQL {connection.pg_version}; "
          f"{args.passes} passes")

    def truncate():
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {table}")
            cursor.execute(f"VACUUM ANALYZE {table}")

    def drain(per_entry: int) -> tuple[float, float]:
        truncate()
        started = time.perf_counter()
        if per_entry == 1:
            for start in range(0, len(data), 1000):  # what 1,000 one-row requests leave: 1,000 entries
                _append_to_stream([payload for record in data[start : start + 1000] for payload in _encode_all([record])], None)
        else:
            for start in range(0, len(data), 100):
                log_predictions(data[start : start + 100])
        appended = len(data) / (time.perf_counter() - started)
        entries = client.xlen(stream)
        assert entries == len(data) // per_entry, (entries, len(data), per_entry)
        started = time.perf_counter()
        settled = drain_until_empty(consumer="bench", batch=batch)
        seconds = time.perf_counter() - started
        rows = PredictionLog.objects.count()
        assert settled == entries and rows == len(data), (settled, entries, rows)
        return appended, rows / seconds

    def raw_copy() -> float:
        truncate()
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} {COLUMNS} FROM STDIN") as copy:
                copy.write(raw)
        seconds = time.perf_counter() - started
        assert PredictionLog.objects.count() == len(data)
        return len(data) / seconds

    seen: dict[str, list[float]] = {}
    for number in range(1, args.passes + 1):
        for shape, per_entry in (("one-row", 1), ("100-record", 100)):
            # alternate which goes first, so neither always gets the warmer cache
            order = ("drain", "copy") if number % 2 else ("copy", "drain")
            result = {}
            for which in order:
                if which == "drain":
                    result["append"], result["drain"] = drain(per_entry)
                else:
                    result["copy"] = raw_copy()
            ratio = result["drain"] / result["copy"]
            seen.setdefault(shape, []).append(ratio)
            print(f"pass {number} {shape:>10}: append {result['append']:>9,.0f} rows/s   drain {result['drain']:>9,.0f} "
                  f"rows/s   raw COPY {result['copy']:>9,.0f} rows/s   drain/COPY {ratio:.2f}")
    client.delete(stream, stream + ":dead")
    for shape, ratios in seen.items():
        print(f"{shape:>10}: drain / raw COPY, median of {len(ratios)}: {statistics.median(ratios):.2f} "
              f"(passes: {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
