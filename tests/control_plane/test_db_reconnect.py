"""A server whose database connection was terminated (a PostgreSQL restart, a failover,
pg_terminate_backend) reconnects on the next request instead of answering 500: the
connection is health-checked per request (CONN_HEALTH_CHECKS with CONN_MAX_AGE).
A real gunicorn process keeps its connections between requests, as in production."""

import subprocess
import sys
import time

import pytest
import requests
from django.db import connection

from control_plane.tokens import token_create
from tests.processes import free_port, process_env, stop_processes, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
APP_NAME = "reconnect-test-server"
READS = [
    ("GET", "/api/v1/models/", 200),
    ("GET", "/api/v1/events/", 200),
    ("GET", "/api/v1/promotions/", 200),
    ("GET", "/api/2.0/mlflow/registered-models/search", 200),
    ("GET", "/readyz", 200),
    ("POST", "/api/v1/serve/no-such-model/predict", 404),  # the data plane's own handler reads too
]


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = process_env(CONTROL_PLANE_VAR_DIR=str(tmp_path / "var"), PGAPPNAME=APP_NAME)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "control_plane.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "1", "--log-level", "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{url}/healthz", timeout=10).ok
        except (requests.ConnectionError, requests.Timeout):
            return proc.poll() is not None  # stop waiting if it died
    assert wait_for(up, timeout=60) and proc.poll() is None, "gunicorn did not start"
    yield url
    stop_processes([proc])


def server_backends() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [APP_NAME])
        return [row[0] for row in cursor.fetchall()]


def terminate(pids: list[int]) -> None:
    with connection.cursor() as cursor:
        for pid in pids:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_reads_answer_200_after_the_servers_connection_is_terminated(server, viewer):
    headers = {"Authorization": f"Bearer {token_create(actor=viewer, owner=viewer, name='r').secret}"}
    for method, path, status in READS:
        def read():
            return requests.request(method, server + path, headers=headers, json={"instances": [{}]}, timeout=30)

        assert read().status_code == status, path
        pids = server_backends()
        assert pids, "the server keeps its connection between requests"
        terminate(pids)
        assert wait_for(lambda: not set(pids) & set(server_backends()), timeout=10)
        response = read()
        assert response.status_code == status, (path, response.text[:500])
        assert server_backends() and not set(pids) & set(server_backends())
