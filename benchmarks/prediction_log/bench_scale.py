"""The prediction log at scale: synthetic rows over several days (default 30 M over 3 days,
made by PostgreSQL with generate_series), then the operations whose cost must not grow with
the log: a drift sample over one day, feedback for 100,000 request ids, retention of a day,
and ingestion (drain vs raw COPY) into the loaded table.

    python benchmarks/prediction_log/bench_scale.py [--rows 30000000] [--days 3] [--keep]
        [--skip-load] [--compare-random]

--compare-random also times the old sample (ORDER BY random() LIMIT n over the window).
Uses the database `bench_prediction_log_scale` (created and migrated when missing; with
--skip-load the rows of a previous --keep run are reused). Not a test: it prints numbers.
"""

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import configure, ensure_database  # noqa: E402

DATABASE_URL = configure("bench_prediction_log_scale", "bench-scale")

MODEL = "churn-predictor"
FIRST_DAY = datetime(2026, 1, 10, tzinfo=UTC)  # the synthetic days: FIRST_DAY, the day after...

GENERATE = """
INSERT INTO {table} (request_id, model_name, model_version, variant, deployment_id, ts, features, prediction,
                     latency_ms, extra)
SELECT 'd{day}-' || g, %(model)s, 3, CASE WHEN g %% 10 = 0 THEN 'shadow' ELSE 'champion' END, 1,
       %(start)s::timestamptz + (g - 1) * %(step)s * interval '1 microsecond',
       jsonb_build_object(
           'tenure_months', (g %% 72)::float8, 'monthly_spend', 20 + (g %% 300) / 3.0,
           'plan', (ARRAY['basic', 'pro', 'team', 'enterprise'])[g %% 4 + 1], 'seats', g %% 50,
           'support_tickets', g %% 9, 'logins_30d', (g * 7) %% 90, 'region', 'r' || (g %% 12), 'nps', (g %% 11) - 5,
           'discount', (g %% 5) / 10.0, 'autopay', g %% 2 = 1, 'age_days', g %% 4000, 'last_invoice', 99.5 + g %% 17),
       jsonb_build_object('label', g %% 2, 'probability', (g %% 100) / 100.0),
       1.0 + (g %% 40) / 10.0, '{{}}'::jsonb
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
"""


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
    parser.add_argument("--feedback-ids", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=10_000)
    args = parser.parse_args()

    ensure_database(DATABASE_URL)
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection, transaction

    from monitoring import log_partitions
    from monitoring.log_sample import window_sample
    from monitoring.models import PredictionLog
    from monitoring.services import FEEDBACK_MAX_ITEMS, FeedbackItem, predictions_feedback, predictions_purge

    call_command("migrate", verbosity=0)
    assert log_partitions.partitioned(), "the bench needs the partitioned log (PostgreSQL, migration 0003)"
    table = PredictionLog._meta.db_table
    per_day = args.rows // args.days
    days = [FIRST_DAY + timedelta(days=n) for n in range(args.days)]
    print(f"{args.rows:,} rows over {args.days} days ({per_day:,} a day), PostgreSQL {connection.pg_version}")

    if not args.skip_load:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {table}")
        log_partitions.ensure(day.date() for day in days)
        step = 86_400_000_000 // per_day  # microseconds between rows: the day filled evenly
        for n, day in enumerate(days):
            for first in range(1, per_day + 1, 1_000_000):  # a million rows per statement
                last = min(first + 999_999, per_day)
                with connection.cursor() as cursor:
                    timed(f"load day {n + 1}, rows {first:,}-{last:,} (INSERT ... generate_series)",
                          lambda: cursor.execute(GENERATE.format(table=table, day=n), {
                              "model": MODEL, "start": day, "step": step, "first": first, "last": last}))
        with connection.cursor() as cursor:
            timed("ANALYZE (autovacuum's job on a live system)", lambda: cursor.execute(f"ANALYZE {table}"))

    middle = days[len(days) // 2]
    window = PredictionLog.objects.filter(
        model_name=MODEL, model_version=3, variant__in=("champion", "challenger", "batch", "stream"),
        ts__gte=middle, ts__lt=middle + timedelta(days=1),
    )
    columns = ("features", "prediction", "ground_truth")
    for number in range(1, 4):
        rows, _ = timed(f"drift sample of {args.sample:,} over one day, pass {number}",
                        lambda: window_sample(window, args.sample, columns))
        assert len(rows) == args.sample, len(rows)
    if args.compare_random:
        rows, _ = timed(f"the old sample: ORDER BY random() LIMIT {args.sample:,}",
                        lambda: list(window.order_by("?").values_list(*columns)[: args.sample]))

    user, _ = User.objects.get_or_create(username="bench-feedback", defaults={"is_superuser": True})
    ids = [f"d{len(days) // 2}-{g}" for g in random.Random(1).sample(range(1, per_day + 1), args.feedback_ids)]

    salt = random.randrange(1, 1_000_000)  # a new truth each run: every row really changes

    def feedback():
        updated = 0
        for start in range(0, len(ids), FEEDBACK_MAX_ITEMS):  # the API's own limit per call
            items = [FeedbackItem(request_id=i, ground_truth={"label": hash(i) % 2, "run": salt}, model=MODEL)
                     for i in ids[start : start + FEEDBACK_MAX_ITEMS]]
            updated += predictions_feedback(actor=user, items=items).rows_updated
        return updated

    updated, _ = timed(f"feedback for {len(ids):,} request ids ({FEEDBACK_MAX_ITEMS:,} per call)", feedback)
    assert updated == len(ids), updated

    if not args.keep:
        oldest = days[0]
        purged, _ = timed("retention: the oldest day", lambda: predictions_purge(
            older_than_days=1, now=oldest + timedelta(days=2, hours=1)))
        assert purged.partitions == [log_partitions.partition_name(oldest.date())], purged
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE ts < %s", [oldest + timedelta(days=1)])
            assert cursor.fetchone()[0] == 0
    print("ingestion into the loaded table: python benchmarks/prediction_log/bench_drain.py "
          "--database bench_prediction_log_scale (see its --keep-rows)")


if __name__ == "__main__":
    main()
