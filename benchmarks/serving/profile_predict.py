"""cProfile of N in-process calls of POST /api/v1/serve/{model}/predict through the WSGI
application the servers run (control_plane.wsgi: the serving fast path, auth, routing,
validation, scoring, logging to the Redis stream), against a database `run.py` set up.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_serving REDIS_URL=redis://127.0.0.1:6379/14 \
    PREDICTION_STREAM=bench-profile OMP_NUM_THREADS=1 \
    /tmp/probe-venv/bin/python benchmarks/serving/profile_predict.py --token TOKEN [--rows 1] [-n 2000]
"""

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.settings")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--token", required=True)
    ap.add_argument("--model", default="bench-hgb")
    ap.add_argument("--rows", type=int, default=1)
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--top", type=int, default=35)
    args = ap.parse_args()

    from io import BytesIO

    import numpy as np

    from control_plane.wsgi import application

    rng = np.random.default_rng(1)
    rows = [{f"f{i}": float(v) for i, v in enumerate(r)} for r in rng.normal(size=(args.rows, 12))]
    body = json.dumps({"instances": rows}).encode()
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": f"/api/v1/serve/{args.model}/predict", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": f"Bearer {args.token}", "HTTP_HOST": "127.0.0.1",
    }
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def call():
        answer = application({**environ, "wsgi.input": BytesIO(body)}, start_response)
        b"".join(answer)
        getattr(answer, "close", lambda: None)()
        assert statuses.pop().startswith("200"), answer

    for _ in range(50):
        call()
    started = time.perf_counter()
    for _ in range(args.n):
        call()
    plain = (time.perf_counter() - started) / args.n * 1000
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.n):
        call()
    profiler.disable()
    print(f"{args.n} calls, {args.rows} row(s): {plain:.3f} ms per call without the profiler")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
