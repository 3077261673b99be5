"""A real Celery worker on the real broker, for the tests that need one."""

import subprocess
import sys

import pytest
from django.db import connection

from control_plane.celery import app as celery_app
from tests.processes import process_env, stop_processes


@pytest.fixture
def worker(transactional_db, monkeypatch):
    """Starts `celery worker` against the test database and the test queue."""
    env = process_env(CELERY_TASK_ALWAYS_EAGER="false")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "control_plane", "worker", "--pool=solo", "--loglevel=INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # The namespaced key is the one Celery reads (config comes from Django settings).
    monkeypatch.setitem(celery_app.conf, "CELERY_TASK_ALWAYS_EAGER", False)
    yield proc
    stop_processes([proc], timeout=20)
    connection.close()
