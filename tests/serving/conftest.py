"""A small scikit-learn classifier saved as an MLflow model on local disk (no tracking
server needed), registered and put in Production through the real approval path."""

import pytest

from registry import model_loading
from tests.conftest import promote

SERVING_SCHEMA = [
    {"name": "tenure_months", "type": "double", "nullable": False},
    {"name": "monthly_spend", "type": "double", "nullable": False},
    {"name": "support_tickets", "type": "long", "nullable": False},
]


def save_classifier(path, *, seed: int = 0, flip: bool = False):
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "tenure_months": rng.uniform(0, 60, 300),
            "monthly_spend": rng.uniform(10, 200, 300),
            "support_tickets": rng.integers(0, 10, 300).astype("int64"),
        }
    )
    y = ((X["support_tickets"] > 4) | (X["tenure_months"] < 6)).astype(int)
    if flip:
        y = 1 - y
    model = LogisticRegression(max_iter=500).fit(X, y)
    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(X, model.predict_proba(X)),
        pip_requirements=["scikit-learn"],  # skip MLflow's requirement inference (a slow subprocess)
    )
    return f"file://{path}"


@pytest.fixture(scope="session")
def saved_models(tmp_path_factory):
    """Two saved classifiers for the whole session: v1's, and v2's with labels flipped."""
    root = tmp_path_factory.mktemp("models")
    return save_classifier(root / "m1"), save_classifier(root / "m2", flip=True)


@pytest.fixture(autouse=True)
def serving_settings(settings, tmp_path):
    settings.PREDICTION_LOG_BACKEND = "direct"
    settings.VAR_DIR = tmp_path / "var"
    model_loading.cache_clear()
    from serving import auth
    from serving.router import routing_table

    routing_table.invalidate()
    auth.clear()
    yield
    model_loading.cache_clear()


@pytest.fixture
def served(saved_models, contributor, approver, registered_model):
    """churn-predictor v1 in Production, v2 (labels flipped) in Staging."""
    from tests.conftest import staged_version

    v1 = promote(contributor, approver, source=saved_models[0], schema=SERVING_SCHEMA)
    v2 = staged_version(contributor, source=saved_models[1], schema=SERVING_SCHEMA)
    return v1, v2


ROW = {"tenure_months": 3.0, "monthly_spend": 50.0, "support_tickets": 7}


def send_traffic(client, count=400, model="churn-predictor"):
    """`count` one-row predictions with distinct routing keys, all answered 200."""
    import json

    import numpy as np

    rng = np.random.default_rng(count)
    for i in range(count):
        row = {"tenure_months": float(rng.uniform(0, 60)), "monthly_spend": 50.0, "support_tickets": int(rng.integers(0, 10))}
        r = client.post(
            f"/api/v1/serve/{model}/predict",
            json.dumps({"instances": [row], "routing_key": f"user-{i}"}),
            content_type="application/json",
        )
        assert r.status_code == 200, r.json()


@pytest.fixture(scope="session", autouse=True)
def close_shadow_connections():
    """The shadow pool's threads keep their database connections (CONN_MAX_AGE); close
    them at the end so the test database can be dropped."""
    yield
    import threading

    from django.db import connections

    from serving import shadow

    workers = shadow._pool._max_workers
    barrier = threading.Barrier(workers, timeout=10)

    def close_in_this_thread():
        barrier.wait()  # every pool thread runs exactly one of these
        connections.close_all()

    for future in [shadow._pool.submit(close_in_this_thread) for _ in range(workers)]:
        future.result(timeout=20)


def running_batch_job(user, model, *, rows_total=4000, rows_done=1000):
    """A batch job row in "running" state, as a worker leaves it between two chunks."""
    from serving.models import BatchJob
    from tests.conftest import register_version

    return BatchJob.objects.create(
        model=model, version=register_version(user), status=BatchJob.Status.RUNNING, input_path="/data/in.csv",
        input_format="csv", output_path="/data/out.csv", chunk_rows=1000, rows_total=rows_total,
        rows_done=rows_done, created_by=user,
    )
