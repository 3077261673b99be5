"""Fixtures for the prediction log: a Redis stream of this test's own (Redis database 15)
and a builder for the records serving hands over."""

import os
import uuid
from datetime import UTC, datetime

import pytest

from monitoring.drain import DEAD_SUFFIX
from monitoring.prediction_log import redis_client
from monitoring.records import PredictionRecord


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
