"""A real `mlflow server` (SQLite backend, local artifacts, a free loopback port) for
the session, and helpers that train and log small scikit-learn models to it."""

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.processes import free_port


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    log = open(root / "server.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{root}/mlflow.db",
            "--artifacts-destination", str(root / "artifacts"),
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: `mlflow server` runs uvicorn as a child
    )
    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(f"{url}/health", timeout=5).ok:
                break
        except requests.RequestException:  # not listening yet, or too busy starting to answer
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise RuntimeError("mlflow server did not start:\n" + (root / "server.log").read_text()[-3000:])
        time.sleep(0.3)
    yield url
    os.killpg(proc.pid, signal.SIGTERM)  # the server and its uvicorn child, which terminate() alone orphans
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture
def tracking(mlflow_server, settings, monkeypatch):
    """Point both the control plane and the test's MLflow client at the tracking server."""
    import mlflow

    settings.MLFLOW_TRACKING_URI = mlflow_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    mlflow.set_tracking_uri(mlflow_server)
    # An experiment chosen earlier in this process may belong to another test's server
    # (mlflow.set_experiment also exports MLFLOW_EXPERIMENT_ID): start from this server's default.
    mlflow.set_experiment(experiment_id="0")
    yield mlflow_server
    mlflow.set_registry_uri(None)


FEATURES = ["tenure_months", "monthly_spend", "support_tickets"]


def training_data(rows: int = 200, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "tenure_months": rng.uniform(0, 60, rows),
            "monthly_spend": rng.uniform(10, 200, rows),
            "support_tickets": rng.integers(0, 10, rows).astype("int64"),
        }
    )
    y = ((X["support_tickets"] > 4) | (X["tenure_months"] < 6)).astype(int)
    return X, y


def log_sklearn_model(*, signature: bool = True, name: str = "model", registered_model_name: str | None = None):
    """Train a small classifier and log it to the current tracking server, the way our
    users do. Returns (run_id, ModelInfo)."""
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    X, y = training_data()
    model = LogisticRegression(max_iter=200).fit(X, y)
    with mlflow.start_run() as run:
        mlflow.log_params({"C": 1.0, "max_iter": 200})
        mlflow.log_metrics({"auc": 0.94, "f1": 0.87})
        mlflow.set_tag("team", "growth")
        info = mlflow.sklearn.log_model(
            model,
            name=name,
            signature=infer_signature(X, model.predict_proba(X)) if signature else None,
            registered_model_name=registered_model_name,
        )
    return run.info.run_id, info


# --- Logged models and MLflow clients that talk to the control plane -------------------


@pytest.fixture(scope="session")
def logged_runs(mlflow_server):
    """Two runs on the tracking server, each with a small scikit-learn model logged with a
    signature: [(run_id, model_id), ...]. Logged once for the session."""
    import mlflow
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(mlflow_server)
    mlflow.set_experiment("control-plane-tests")
    rng = np.random.default_rng(7)
    X = pd.DataFrame({"tenure_months": rng.uniform(0, 60, 200), "monthly_spend": rng.uniform(5, 120, 200)})
    y = (X["tenure_months"] < 12).astype(int)
    runs = []
    for c in (1.0, 0.5):
        model = LogisticRegression(C=c).fit(X, y)
        with mlflow.start_run() as run:
            mlflow.log_params({"C": c})
            mlflow.log_metrics({"auc": 0.9 + c / 100})
            info = mlflow.sklearn.log_model(model, name="model", signature=infer_signature(X, model.predict(X)))
        runs.append((run.info.run_id, info.model_id))
    return runs


class Registry:
    """MLflow clients pointed at the control plane (registry) and the tracking server,
    authenticating as one of our users through MLFLOW_TRACKING_TOKEN."""

    def __init__(self, url: str, tracking_url: str, monkeypatch):
        self.url = url
        self.tracking_url = tracking_url
        self._monkeypatch = monkeypatch
        self.tokens: dict[tuple[int, bool], str] = {}

    def token(self, user, *, read_only: bool = False) -> str:
        from control_plane.tokens import token_create

        key = (user.pk, read_only)
        if key not in self.tokens:
            self.tokens[key] = token_create(actor=user, owner=user, name="mlflow", read_only=read_only).secret
        return self.tokens[key]

    def as_user(self, user, *, read_only: bool = False):
        """An MlflowClient whose calls (from now on) carry this user's token."""
        import mlflow

        self._monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", self.token(user, read_only=read_only))
        return mlflow.MlflowClient(tracking_uri=self.tracking_url, registry_uri=self.url)

    def anonymous(self):
        import mlflow

        self._monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
        return mlflow.MlflowClient(tracking_uri=self.tracking_url, registry_uri=self.url)


@pytest.fixture
def registry(live_server, tracking, monkeypatch):
    import gc

    import mlflow
    from mlflow.utils import request_utils

    mlflow.set_registry_uri(live_server.url)
    yield Registry(live_server.url, tracking, monkeypatch)
    # Drop the MLflow client's keep-alive HTTP sessions: a live-server thread serving a
    # kept-alive connection holds its database connection until the socket closes,
    # which would keep the test database from being dropped at the end.
    request_utils._cached_get_request_session.cache_clear()
    gc.collect()
