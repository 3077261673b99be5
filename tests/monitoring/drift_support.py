"""Fixtures and builders for the drift tests: a real scikit-learn classifier in Production,
reference tables made from the same rule it was trained on, and logged traffic written with
bulk_create (scored by the model itself, so prediction drift follows the features)."""

import io
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from monitoring.models import PredictionLog
from registry import model_loading
from tests.conftest import promote
from tests.serving.conftest import SERVING_SCHEMA, save_classifier

MODEL = "churn-predictor"
FEATURES = [c["name"] for c in SERVING_SCHEMA]


def reference_url(version: int = 1, model: str = MODEL) -> str:
    return f"/api/v1/models/{model}/versions/{version}/reference/"


def customers(n: int, *, seed: int = 1, tenure_shift: float = 0.0) -> pd.DataFrame:
    """The training distribution (tenure 0-60, spend 10-200, tickets 0-9) with the training
    rule's label; `tenure_shift` moves tenure only."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure_months": rng.uniform(0, 60, n) + tenure_shift,
            "monthly_spend": rng.uniform(10, 200, n),
            "support_tickets": rng.integers(0, 10, n).astype("int64"),
        }
    )
    frame["label"] = ((frame["support_tickets"] > 4) | (frame["tenure_months"] < 6)).astype(int)
    return frame


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def saved_model(tmp_path_factory):
    return save_classifier(tmp_path_factory.mktemp("drift-models") / "m1")


@pytest.fixture(autouse=True)
def drift_settings(settings, tmp_path):
    settings.PREDICTION_LOG_BACKEND = "direct"
    settings.VAR_DIR = tmp_path / "var"
    settings.REFERENCE_DATA_ROOTS = [tmp_path / "reference"]
    (tmp_path / "reference").mkdir()
    model_loading.cache_clear()
    yield settings
    model_loading.cache_clear()


@pytest.fixture
def production(saved_model, contributor, approver, registered_model):
    """churn-predictor v1, a real classifier, in Production through the approval path."""
    return promote(contributor, approver, source=saved_model, schema=SERVING_SCHEMA)


@pytest.fixture
def referenced(production, contributor):
    """v1 with a reference profile of 5,000 rows scored by its own model."""
    from monitoring.reference import reference_profile_create

    reference_profile_create(
        version=production, actor=contributor, data=csv_bytes(customers(5000)), filename="reference.csv"
    )
    return production


def log_traffic(
    version, frame: pd.DataFrame, *, variant: str = "champion", truths=None, prefix: str = "r", ts=None
) -> None:
    """One PredictionLog row per frame row, as serving logs them: {label, probability of it}."""
    loaded = model_loading.load_version(version)
    inputs = frame[FEATURES]
    proba = loaded.predict_proba(inputs)
    best = proba.argmax(axis=1)
    when = ts or timezone.now() - timedelta(hours=1)
    records = inputs.to_dict("records")
    PredictionLog.objects.bulk_create(
        [
            PredictionLog(
                model_name=version.model.name,
                model_version=version.version,
                variant=variant,
                request_id=f"{prefix}-{i}",
                ts=when,
                features={k: (int(v) if k == "support_tickets" else float(v)) for k, v in row.items()},
                prediction={"label": int(best[i]), "probability": float(proba[i, best[i]])},
                latency_ms=1.0,
                ground_truth=None if truths is None else int(truths[i]),
            )
            for i, row in enumerate(records)
        ],
        batch_size=1000,
    )
