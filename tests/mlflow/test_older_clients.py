"""Clients in the wild lag servers: the team's registry calls (client_flow.py) run with the
pinned MLflow client and with MLflow 3.6.0, each in a process of its own, against the live
control plane. The 3.6.0 client is installed once into a venv of its own, from
requirements-client-3.6.txt (cached under the system temp dir, keyed by the file's hash)."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from registry.models import ModelVersion, PromotionRequest, RegisteredModel

HERE = Path(__file__).parent
FLOW = HERE / "client_flow.py"
OLD_CLIENT_REQUIREMENTS = HERE / "requirements-client-3.6.txt"

pytestmark = pytest.mark.django_db(transaction=True)


def client_venv(requirements: Path) -> Path:
    """A venv with exactly `requirements` installed, built once per content of the file."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    venv = Path(tempfile.gettempdir()) / "control-plane-mlflow-clients" / f"{requirements.stem}-{digest}"
    python = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return python
    building = venv.with_name(venv.name + f".building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True)
    subprocess.run(
        [str(building / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "-r", str(requirements)],
        check=True, capture_output=True, text=True,
    )
    shutil.rmtree(venv, ignore_errors=True)
    building.rename(venv)  # paths inside a venv are absolute: rebuild its scripts' shebangs below
    subprocess.run([sys.executable, "-m", "venv", "--upgrade", str(venv)], check=True)
    (venv / ".complete").touch()
    return python


@pytest.fixture(scope="session")
def old_client_python():
    return client_venv(OLD_CLIENT_REQUIREMENTS)


@pytest.fixture(params=["pinned", "3.6.0"])
def client_python(request):
    if request.param == "pinned":
        return Path(sys.executable)
    return request.getfixturevalue("old_client_python")


def test_the_team_flow_works_with_each_client_and_production_stays_gated(
    live_server, settings, client_python, admin
):
    from control_plane.tokens import token_create

    settings.MLFLOW_TRACKING_URI = ""  # sources s3://...: stored as given
    name = "Churn model 1"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        "CONTROL_PLANE_URL": live_server.url,
        "MLFLOW_TRACKING_TOKEN": token_create(actor=admin, owner=admin, name="flow").secret,
        "MODEL_NAME": name,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    run = subprocess.run([str(client_python), str(FLOW)], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout)

    expected_client = "3.6.0" if "3.6" in str(client_python) else __import__("mlflow").__version__
    assert seen["client"] == expected_client
    assert seen["created"] == [name, True]
    assert seen["duplicate"]["error_code"] == "RESOURCE_ALREADY_EXISTS"
    assert f"Registered Model (name={name}) already exists." in seen["duplicate"]["message"]
    assert seen["by_alias"] == "2" and seen["search"] == [name] and seen["versions"] == ["1", "2"]
    assert seen["staged"] == "Staging"
    request = PromotionRequest.objects.get(version__model__name=name)
    for refusal in (seen["production"], seen["champion_alias"]):
        assert refusal["error_code"] == "PERMISSION_DENIED"
        assert f"promotion request #{request.pk}" in refusal["message"]
    assert seen["copy"] == ["3", f"models:/{name}/2", "s3://bucket/churn/2"]
    assert seen["model"] == {"tags": {"tier": "gold"}, "aliases": {"candidate": "2"}, "description": "Predicts churn."}
    assert seen["v1"] == {"tags": {"data": "2026-11", "validated": "yes"}, "description": "First.", "stage": "None"}
    assert seen["missing"]["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # What the database holds: nothing reached Production, the request waits for someone else.
    model = RegisteredModel.objects.get(name=name)
    assert not ModelVersion.objects.filter(model=model, stage="production").exists()
    assert request.status == "pending" and request.requested_by == admin
