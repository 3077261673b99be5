"""The environment the prediction-log benchmarks run in, set before Django starts: their own
database (created when missing), Redis database 15, a stream of this process's own."""

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def configure(database: str, stream_prefix: str) -> str:
    """Environment for Django; answers the database URL (BENCH_DATABASE_URL overrides)."""
    sys.path.insert(0, str(BASE_DIR))
    url = os.environ.get("BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{database}")
    os.environ["DATABASE_URL"] = url
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    os.environ["PREDICTION_LOG_BACKEND"] = "redis"
    os.environ["PREDICTION_STREAM"] = f"{stream_prefix}-{os.getpid()}"
    os.environ["PREDICTION_STREAM_MAXLEN"] = "10000000"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    return url


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
