"""Local files as model sources: only under LOCAL_SOURCE_ROOTS (real paths: symlinks and ..
resolved), and no error a user can read names a server path outside them."""

import json
import os
from pathlib import Path

import pytest

from registry.models import ModelVersion
from tests.conftest import promote
from tests.serving.conftest import ROW, SERVING_SCHEMA, save_classifier

pytestmark = pytest.mark.django_db


@pytest.fixture
def roots(settings, tmp_path):
    root = tmp_path / "models"
    root.mkdir()
    settings.LOCAL_SOURCE_ROOTS = [root]
    settings.VAR_DIR = tmp_path / "var"
    return root


def outside_sources(root: Path) -> list[str]:
    (root / "etc-link").symlink_to("/etc")
    return [
        "file:///etc/passwd",
        "/etc/passwd",
        "../../../../etc/passwd",
        "/proc/self/environ",
        "file:///proc/self/environ",
        f"{root}/../../../../etc/passwd",
        f"file://{root}/etc-link/passwd",  # a symlink inside the root leading out of it
        "file://other-host/share/model",
        "ftp://files.example.com/model",
    ]


def test_sources_outside_the_roots_are_refused_without_naming_server_paths(api, contributor, registered_model, roots):
    client = api(contributor)
    for source in outside_sources(roots):
        response = client.post("/api/v1/models/churn-predictor/versions/", {"source": source}, format="json")
        assert response.status_code == 422, (source, response.content)
        body = response.json()
        assert "source" in body["error"]["details"], source
        assert "/etc" not in json.dumps(body) and "/proc" not in json.dumps(body)
    assert not ModelVersion.objects.exists()


def test_a_source_inside_the_roots_is_accepted(api, contributor, registered_model, roots):
    source = f"file://{roots}/churn-v1"
    response = api(contributor).post("/api/v1/models/churn-predictor/versions/", {"source": source}, format="json")
    assert response.status_code == 201, response.content
    plain = api(contributor).post("/api/v1/models/churn-predictor/versions/", {"source": str(roots / "x")}, format="json")
    assert plain.status_code == 201


def test_the_mlflow_api_applies_the_same_rule(api, contributor, registered_model, roots):
    response = api(contributor).post(
        "/api/2.0/mlflow/model-versions/create", {"name": "churn-predictor", "source": "file:///etc/passwd"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "/etc" not in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_a_stored_source_outside_the_roots_is_not_read_when_serving(api, viewer, contributor, approver, registered_model,
                                                                     roots, tmp_path):
    """A row that predates the rule (or was changed in the database) is checked again before any
    download: nothing is copied under var/, and the 503 names no server path."""
    mv = promote(contributor, approver, source=save_classifier(roots / "m1"), schema=SERVING_SCHEMA)
    ModelVersion.objects.filter(pk=mv.pk).update(source="file:///etc/passwd")

    response = api(viewer).post("/api/v1/serve/churn-predictor/predict", {"instances": [ROW]}, format="json")

    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert "/etc" not in message and "LOCAL_SOURCE_ROOTS" in message
    copied = [p for p in (tmp_path / "var").rglob("*") if p.is_file()] if (tmp_path / "var").exists() else []
    assert copied == []


def test_load_errors_hide_paths_outside_the_roots(api, viewer, contributor, approver, registered_model, roots, settings):
    """A model under a root whose loading fails with a library message naming other server paths."""
    broken = roots / "broken"
    broken.mkdir()
    (broken / "MLmodel").write_text(
        "flavors:\n  sklearn:\n    pickled_model: model.pkl\n    sklearn_version: 1.0\n    serialization_format: cloudpickle\n"
        "  python_function:\n    loader_module: mlflow.sklearn\n    model_path: model.pkl\n"
    )  # no model.pkl: the library's error names the copy under var/, a server path outside the roots
    promote(contributor, approver, source=f"file://{broken}", schema=SERVING_SCHEMA)

    response = api(viewer).post("/api/v1/serve/churn-predictor/predict", {"instances": [ROW]}, format="json")

    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert "cannot be loaded" in message
    assert str(Path(settings.VAR_DIR)) not in message and "model-artifacts" not in message, message
