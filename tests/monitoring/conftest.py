"""Fixtures for the prediction log: a Redis stream of this test's own (Redis database 15)
and a builder for the records serving hands over."""

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from monitoring.drain import DEAD_SUFFIX
from monitoring.prediction_log import redis_client
from monitoring.records import PredictionRecord
from tests.processes import process_env, stop_processes

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def stream(settings):
    """The Redis backend, on a stream no other test run shares; deleted afterwards."""
    name = f"predictions-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    client = redis_client()  # kept: a test may point REDIS_URL elsewhere
    settings.PREDICTION_STREAM = name
    settings.PREDICTION_LOG_BACKEND = "redis"
    yield name
    client.delete(name, name + DEAD_SUFFIX)


@pytest.fixture
def direct(settings):
    settings.PREDICTION_LOG_BACKEND = "direct"


def make_record(i: int = 0, *, model: str = "churn-predictor", version: int = 1, variant: str = "champion",
                request_id: str | None = None, timestamp: datetime | None = None, **extra) -> PredictionRecord:
    return PredictionRecord(
        request_id=request_id or f"req-{i:06d}",
        model_name=model,
        model_version=version,
        variant=variant,
        timestamp=timestamp or datetime.now(UTC),
        features={"tenure_months": float(i % 60), "plan": ["basic", "pro"][i % 2], "monthly_spend": 10.0 + i % 7},
        prediction=extra.pop("prediction", {"label": i % 2, "probability": 0.25 + (i % 50) / 100}),
        latency_ms=extra.pop("latency_ms", 1.5),
        deployment_id=extra.pop("deployment_id", 7),
        extra=extra,
    )


@pytest.fixture
def drainer(transactional_db, stream):
    """drainer(*options) starts `manage.py drain_predictions` against the test database and
    this test's stream; every process still running at the end gets SIGTERM."""
    env = process_env(REDIS_URL=django_settings.REDIS_URL, PREDICTION_STREAM=stream, PREDICTION_LOG_BACKEND="redis")
    started = []

    def start(*options: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "drain_predictions", "--block-ms", "200", *options],
            cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        started.append(proc)
        return proc

    yield start
    stop_processes(started, timeout=30)
    connection.close()
