"""The fixtures that replace MLflow's own when one of its registry test files runs against
the control plane (run.py copies this file next to the test file). It runs inside the MLflow
client's interpreter: no Django, no project import.

Set by run.py: CONTROL_PLANE_URL (the live control plane), MLFLOW_TRACKING_TOKEN (an API
token of an admin there, so the tests may delete models), COMPAT_TRACKING_URI (the
tracking server: the control plane itself, or a real `mlflow server`)."""

import os

import mlflow
import pytest
from mlflow import MlflowClient

CONTROL_PLANE = os.environ["CONTROL_PLANE_URL"]
TRACKING = os.environ.get("COMPAT_TRACKING_URI") or CONTROL_PLANE


def empty_registry() -> None:
    """Each of MLflow's tests starts on an empty registry (MLflow gives each its own
    database); here every registered model is deleted through the MLflow API instead."""
    registry = MlflowClient(tracking_uri=TRACKING, registry_uri=CONTROL_PLANE)
    while True:
        models = registry.search_registered_models(max_results=1000)
        if not models:
            return
        for model in models:
            registry.delete_registered_model(model.name)


@pytest.fixture(autouse=True)
def live_uris(monkeypatch):
    """What MLflow's tests/conftest.py does for every test (a fresh tracking URI), pointed at
    live servers: tracking at TRACKING, the registry at the control plane."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", TRACKING)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", CONTROL_PLANE)
    mlflow.set_tracking_uri(TRACKING)
    mlflow.set_registry_uri(CONTROL_PLANE)
    empty_registry()
    yield
    if mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(TRACKING)
    mlflow.set_registry_uri(CONTROL_PLANE)


@pytest.fixture
def client():
    """MLflow's `client` fixture replaced: an MlflowClient whose tracking and registry URIs
    are the control plane, authenticated by the token in MLFLOW_TRACKING_TOKEN."""
    return MlflowClient(tracking_uri=CONTROL_PLANE, registry_uri=CONTROL_PLANE)
