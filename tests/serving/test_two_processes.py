"""A routing change reaches every serving process within a second, with no restart:
two real gunicorn processes serve the model while the deployment is cut over and
rolled back."""

import signal
import subprocess
import sys
import time

import pytest
import requests

from control_plane.tokens import token_create
from serving import services as deployments
from tests.processes import free_port, process_env

from .conftest import ROW

pytestmark = pytest.mark.django_db(transaction=True)



@pytest.fixture
def two_servers(served, tmp_path):
    env = process_env(PREDICTION_LOG_BACKEND="direct", CONTROL_PLANE_VAR_DIR=str(tmp_path / "var"))
    servers = []
    for _ in range(2):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "control_plane.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--threads", "2", "--log-level", "warning"],
            env=env,
        )
        servers.append((proc, f"http://127.0.0.1:{port}"))
    for proc, url in servers:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=5).ok:
                    break
            except (requests.ConnectionError, requests.Timeout):  # the worker is still booting
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
    yield servers
    for proc, _ in servers:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_cutover_and_rollback_reach_both_processes_within_a_second(two_servers, contributor, approver, approver2, viewer):
    from registry import services as registry_services

    token = token_create(actor=viewer, owner=viewer, name="serve").secret
    headers = {"Authorization": f"Bearer {token}"}
    pids = [proc.pid for proc, _ in two_servers]

    def versions():
        return [
            requests.post(f"{url}/api/v1/serve/churn-predictor/predict", json={"instances": [ROW]}, headers=headers,
                          timeout=30).json()["model_version"]
            for _, url in two_servers
        ]

    deployments.deployment_configure(actor=approver, model_name="churn-predictor", strategy="blue_green",
                                     challenger_version=2)
    request = registry_services.promotion_request(actor=contributor, model_name="churn-predictor", version=2)
    registry_services.promotion_approve(actor=approver2, request_id=request.pk, override_reason="blue/green")
    time.sleep(1.0)
    assert versions() == [1, 1]  # both loaded, warm, serving v1

    deployments.deployment_action(actor=approver, model_name="churn-predictor", action="cutover")
    time.sleep(1.0)
    assert versions() == [2, 2]

    registry_services.model_rollback(actor=approver, model_name="churn-predictor", reason="back to v1")
    time.sleep(1.0)
    assert versions() == [1, 1]
    assert [proc.pid for proc, _ in two_servers] == pids and all(proc.poll() is None for proc, _ in two_servers)
