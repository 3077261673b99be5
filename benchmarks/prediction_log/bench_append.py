"""The serving-side cost of one log_predictions call (one record), side by side in one run:
the plain XADD of before (MAXLEN ~ trimming) against now (an XADD, with the stream's length read
in the same round trip once a second), and now with a client request id (LOG_SCRIPT: SET NX,
length, XADD), several passes, median microseconds per call.

    python benchmarks/prediction_log/bench_append.py [--calls 3000] [--passes 5]

Redis on 127.0.0.1:6379/15 unless BENCH_REDIS_URL says otherwise; the stream and keys are this
process's own and are deleted at the end. No database is touched. Not a test: it prints numbers.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ["PREDICTION_LOG_BACKEND"] = "redis"
os.environ["PREDICTION_STREAM"] = f"bench-append-{os.getpid()}"
os.environ["PREDICT_REQUEST_ID_PREFIX"] = f"bench-append-rid-{os.getpid()}"
os.environ.setdefault("SECRET_KEY", "benchmark-only-" + "b" * 40)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from monitoring import prediction_log  # noqa: E402
from monitoring.log_codec import encode  # noqa: E402
from monitoring.records import PredictionRecord  # noqa: E402


def record(i: int) -> PredictionRecord:
    return PredictionRecord(
        request_id=f"bench-{i}", model_name="churn", model_version=1, variant="champion",
        timestamp=datetime.now(UTC), features={f"f{j}": float(j) for j in range(12)},
        prediction={"label": 1, "probability": 0.7}, latency_ms=1.2, deployment_id=1,
    )


def plain_xadd(records):  # what log_predictions did before: encode, one XADD with MAXLEN ~
    prediction_log.redis_client().xadd(settings.PREDICTION_STREAM, {"d": encode(records[0])},
                                       maxlen=settings.PREDICTION_STREAM_MAXLEN, approximate=True)


def with_script(records):
    prediction_log.log_predictions(records)


def with_script_and_request_id(records):
    key = prediction_log.RequestKey("churn", records[0].request_id, "0" * 64)
    prediction_log.log_predictions(records, request_key=key)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    cases = {"xadd (before)": plain_xadd, "now": with_script, "now + request_id": with_script_and_request_id}
    results = {name: [] for name in cases}
    client = prediction_log.redis_client()
    try:
        for n in range(args.passes):
            for name, call in cases.items():  # interleaved: the same conditions for each
                batches = [[record(n * 10**6 + i)] for i in range(args.calls)]
                started = time.perf_counter()
                for batch in batches:
                    call(batch)
                results[name].append((time.perf_counter() - started) / args.calls * 1e6)
                client.delete(settings.PREDICTION_STREAM)
        for name, values in results.items():
            print(f"{name:22s} median {statistics.median(values):7.1f} us/call  passes: "
                  + ", ".join(f"{v:.1f}" for v in values))
    finally:
        client.delete(settings.PREDICTION_STREAM)
        for key in client.scan_iter(f"{settings.PREDICT_REQUEST_ID_PREFIX}:*", count=1000):
            client.delete(key)


if __name__ == "__main__":
    main()
