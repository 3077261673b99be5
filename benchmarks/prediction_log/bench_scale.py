"""The prediction log at scale: synthetic rows over several days (default 30 M over 3 days),
then the operations whose cost must not grow with the log, each timed several passes:

- a drift run over one day (the product's report path: drift_report_start + execute, the
  window sampled, compared with a reference profile, the report stored), and the sample alone;
- feedback for 100,000 request ids through the API (10,000 per call), with and without the
  optional `served_on` day, passes alternated;
- retention of a day (the oldest partition dropped; made again afterwards with --keep).

    python benchmarks/prediction_log/bench_scale.py [--rows 30000000] [--days 3] [--keep]
        [--skip-load] [--passes 3] [--compare-random] [--no-retention]

A day is loaded as its own table (INSERT ... generate_series, no index), then indexed and
attached: minutes for 30 M rows. --compare-random also times the old sample (ORDER BY
random() LIMIT n over the window). Database `bench_prediction_log_scale` (BENCH_DATABASE_URL
overrides; created and migrated when missing); --skip-load reuses the rows of a --keep run.
Ingestion is bench_drain.py's. Not a test: it prints numbers.
"""

import argparse
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import configure, ensure_database  # noqa: E402

DATABASE_URL = configure("bench_prediction_log_scale", "bench-scale")

MODEL = "churn-predictor"
FIRST_DAY = datetime(2026, 1, 10, tzinfo=UTC)  # the synthetic days: FIRST_DAY, the day after...

GENERATE = """
INSERT INTO {partition} (id, request_id, model_name, model_version, variant, deployment_id, ts, features, prediction,
                         latency_ms, extra)
SELECT %(first_id)s + g, 'd{day}-' || g, %(model)s, 3, CASE WHEN g %% 10 = 0 THEN 'shadow' ELSE 'champion' END, 1,
       %(start)s::timestamptz + (g - 1) * %(step)s * interval '1 microsecond',
       jsonb_build_object(
           'tenure_months', (g %% 72)::float8, 'monthly_spend', 20 + (g %% 300) / 3.0,
           'plan', (ARRAY['basic', 'pro', 'team', 'enterprise'])[g %% 4 + 1], 'seats', g %% 50,
           'support_tickets', g %% 9, 'logins_30d', (g * 7) %% 90, 'region', 'r' || (g %% 12), 'nps', (g %% 11) - 5,
           'discount', (g %% 5) / 10.0, 'autopay', g %% 2 = 1, 'age_days', g %% 4000, 'last_invoice', 99.5 + g %% 17),
       jsonb_build_object('label', g %% 2, 'probability', (g %% 100) / 100.0),
       1.0 + (g %% 40) / 10.0, '{{}}'::jsonb
FROM generate_series(1, %(rows)s::bigint) AS g
"""


def load_day(number: int, day: datetime, rows: int) -> None:
    """One day's partition made the fast way: a table of its own filled by generate_series
    without indexes, then indexed (sorted builds), then attached (a CHECK constraint saves
    ATTACH its validating scan) and vacuumed (hint bits and visibility map, as autovacuum
    would). The result is what the product's partitions are: same indexes, same fillfactor."""
    from django.db import connection

    from monitoring import log_partitions

    table, name = log_partitions.TABLE, log_partitions.partition_name(day.date())
    start, end = day, day + timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'; SET synchronous_commit = off")
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
                       f"WITH (fillfactor = {log_partitions.FILLFACTOR})")
        timed(f"day {number + 1}: {rows:,} rows (INSERT ... generate_series, no index yet)",
              lambda: cursor.execute(GENERATE.format(partition=name, day=number), {
                  "first_id": number * rows, "model": MODEL, "start": start,
                  "step": 86_400_000_000 // rows, "rows": rows}))
        cursor.execute("SELECT pg_get_indexdef(indexrelid), indisprimary FROM pg_index WHERE indrelid = to_regclass(%s)",
                       [table])
        for n, (definition, primary) in enumerate(cursor.fetchall()):
            index = definition.split(" ON ONLY ", 1)[1].split(" USING ", 1)[1]
            if primary:  # only a primary key matches the parent's
                sql = f"ALTER TABLE {name} ADD PRIMARY KEY {index.removeprefix('btree ')}"
            else:
                sql = f"CREATE {'UNIQUE ' if 'UNIQUE' in definition else ''}INDEX {name}_{n} ON {name} USING {index}"
            timed(f"day {number + 1}: index {index}", lambda: cursor.execute(sql))
        cursor.execute(f"ALTER TABLE {name} ADD CONSTRAINT {name}_range CHECK (ts >= %s AND ts < %s)", [start, end])
        cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [start, end])
        cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range")
        timed(f"day {number + 1}: VACUUM ANALYZE (autovacuum's job on a live system)",
              lambda: cursor.execute(f"VACUUM ANALYZE {name}"))
    connection.close()


def load(days: list[datetime], per_day: int, jobs: int) -> None:
    from django.db import connection

    from monitoring import log_partitions

    table = log_partitions.TABLE
    with ThreadPoolExecutor(jobs) as pool:  # a connection per thread: days loaded side by side
        for _ in pool.map(lambda args: load_day(*args, per_day), enumerate(days)):
            pass
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        cursor.execute(f"ANALYZE {table}")


SCHEMA = [
    {"name": name, "type": kind, "nullable": False}
    for name, kind in (
        ("tenure_months", "double"), ("monthly_spend", "double"), ("plan", "string"), ("seats", "long"),
        ("support_tickets", "long"), ("logins_30d", "long"), ("region", "string"), ("nps", "long"),
        ("discount", "double"), ("autopay", "boolean"), ("age_days", "long"), ("last_invoice", "double"),
    )
]


def synthetic_features(g: int) -> dict:
    """Row g's features, as GENERATE makes them."""
    return {
        "tenure_months": float(g % 72), "monthly_spend": 20 + (g % 300) / 3.0,
        "plan": ["basic", "pro", "team", "enterprise"][g % 4], "seats": g % 50, "support_tickets": g % 9,
        "logins_30d": (g * 7) % 90, "region": f"r{g % 12}", "nps": (g % 11) - 5, "discount": (g % 5) / 10.0,
        "autopay": g % 2 == 1, "age_days": g % 4000, "last_invoice": 99.5 + g % 17,
    }


def reference_version():
    """churn-predictor v3 with the input schema of the synthetic rows and a reference profile
    of 20,000 of them (the product's own column reading and profile builder)."""
    import numpy as np

    from monitoring.drift.profile import profile_build
    from monitoring.drift_jobs import log_columns
    from monitoring.models import ReferenceProfile
    from monitoring.reference import feature_kinds, json_safe
    from registry.models import ModelVersion, RegisteredModel

    model, _ = RegisteredModel.objects.get_or_create(name=MODEL)
    version, _ = ModelVersion.objects.update_or_create(
        model=model, version=3, defaults={"source": "bench", "input_schema": SCHEMA})
    rows = range(1, 20_001)
    columns = log_columns([synthetic_features(g) for g in rows], SCHEMA, [c["name"] for c in SCHEMA])
    profile = profile_build(columns, feature_kinds(SCHEMA), scores=np.array([(g % 100) / 100.0 for g in rows]),
                            labels=np.array([float(g % 2) for g in rows]), task="classifier")
    ReferenceProfile.objects.filter(version=version).delete()
    ReferenceProfile.objects.create(version=version, profile=json_safe(profile), n_rows=len(rows), source="bench",
                                    task="classifier", positive_label="1", label_column="label")
    return model


def drift_run(model, since: datetime) -> int:
    """The product's drift run over [since, since + 1 day): the report started and executed
    (sample, comparison with the reference, performance, the report stored); answers its
    sample size."""
    from monitoring.drift_jobs import drift_report_execute, drift_report_start

    report = drift_report_start(model=model, since=since, until=since + timedelta(days=1), version=3, enqueue=False)
    report = drift_report_execute(report_id=report.pk)
    assert report.status == "succeeded", report.error
    return report.sample_size


def timed(label: str, function):
    started = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - started
    print(f"{label:<58} {seconds:8.2f} s")
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=30_000_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="Keep the rows (for --skip-load next time).")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--compare-random", action="store_true")
    parser.add_argument("--jobs", type=int, default=2, help="Days loaded at the same time.")
    parser.add_argument("--feedback-ids", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=10_000, help="The monitor policy's default sample size.")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--feedback-seed", type=int, default=1)
    parser.add_argument("--no-retention", dest="retention", action="store_false",
                        help="Keep the oldest day (by default it is dropped, and made again with --keep).")
    args = parser.parse_args()

    ensure_database(DATABASE_URL)
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.test import APIClient

    from monitoring import log_partitions
    from monitoring.log_sample import window_sample
    from monitoring.models import MonitorPolicy, PredictionLog
    from monitoring.services import FEEDBACK_MAX_ITEMS, predictions_purge

    call_command("migrate", verbosity=0)
    assert log_partitions.partitioned(), "the bench needs the partitioned log (PostgreSQL, migration 0003)"
    table = PredictionLog._meta.db_table
    per_day = args.rows // args.days
    days = [FIRST_DAY + timedelta(days=n) for n in range(args.days)]
    print(f"{args.rows:,} rows over {args.days} days ({per_day:,} a day), PostgreSQL {connection.pg_version}")

    if not args.skip_load:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {table}")
        timed(f"load {args.rows:,} rows, {args.jobs} days at a time", lambda: load(days, per_day, args.jobs))

    middle = days[len(days) // 2]
    window = PredictionLog.objects.filter(
        model_name=MODEL, model_version=3, variant__in=("champion", "challenger", "batch", "stream"),
        ts__gte=middle, ts__lt=middle + timedelta(days=1),
    )
    columns = ("features", "prediction", "ground_truth")
    model = reference_version()
    MonitorPolicy.objects.filter(model=model).update(sample_size=args.sample)
    for number in range(1, args.passes + 1):
        rows, _ = timed(f"drift sample of {args.sample:,} over one day, pass {number}",
                        lambda: window_sample(window, args.sample, columns))
        assert len(rows) == args.sample, len(rows)
        size, _ = timed(f"drift run (report) over one day ({per_day:,} rows), pass {number}",
                        lambda: drift_run(model, middle))
        assert size == args.sample, size
    if args.compare_random:
        rows, _ = timed(f"the old sample: ORDER BY random() LIMIT {args.sample:,}",
                        lambda: list(window.order_by("?").values_list(*columns)[: args.sample]))

    user, _ = User.objects.get_or_create(username="bench-feedback", defaults={"is_superuser": True})
    client = APIClient()
    client.force_authenticate(user)
    day_number = len(days) // 2

    def feedback(ids: list[int], served_on: bool) -> int:
        """The feedback API (POST /api/v1/predictions/feedback/), FEEDBACK_MAX_ITEMS items per
        call (its limit), a new ground truth for every id (so every row really changes)."""
        salt = random.randrange(1 << 30)
        rows = 0
        for start in range(0, len(ids), FEEDBACK_MAX_ITEMS):
            body = [{"request_id": f"d{day_number}-{g}", "ground_truth": {"label": g % 2, "run": salt}, "model": MODEL,
                     **({"served_on": middle.date().isoformat()} if served_on else {})}
                    for g in ids[start : start + FEEDBACK_MAX_ITEMS]]
            answer = client.post("/api/v1/predictions/feedback/", body, format="json")
            assert answer.status_code == 200, answer.content[:500]
            rows += answer.json()["rows_updated"]
        return rows

    # every pass and way its own ids (no page warmed by an earlier one), in alternating order
    draw = random.Random(args.feedback_seed)
    for number in range(1, args.passes + 1):
        ways = (False, True) if number % 2 else (True, False)
        for served_on in ways:
            ids = draw.sample(range(1, per_day + 1), args.feedback_ids)
            label = "with served_on (one day searched)" if served_on else "request ids only (every day searched)"
            rows, _ = timed(f"feedback for {len(ids):,} ids, {label}, pass {number}", lambda: feedback(ids, served_on))
            assert rows == len(ids), rows

    if args.retention:
        oldest = days[0]
        statements = []

        def each_statement(execute, sql, params, many, context):  # how long the log was held, and by what
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                statements.append((time.perf_counter() - started, sql))

        with connection.execute_wrapper(each_statement):
            purged, _ = timed("retention: the oldest day", lambda: predictions_purge(
                older_than_days=1, now=oldest + timedelta(days=2, hours=1)))
        for seconds, sql in statements:
            if "DETACH" in sql or "DROP" in sql:
                print(f"    {sql[:70]:<70} {seconds:6.2f} s")
        assert purged.partitions == [log_partitions.partition_name(oldest.date())], purged
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE ts < %s", [oldest + timedelta(days=1)])
            assert cursor.fetchone()[0] == 0
        if args.keep:
            timed("the oldest day made again (for the next run)", lambda: load(days[:1], per_day, 1))


if __name__ == "__main__":
    main()
