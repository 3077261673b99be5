"""Helpers for tests that run real processes (workers, drainers, servers) against the
test database."""

import os
import signal
import socket
import subprocess
import time

from django.conf import settings


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.1) -> bool:
    """Poll until predicate() is true or the bounded wait ends; answers which."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_env(**extra: str) -> dict:
    """The environment of a child process that must use this run's test database and queue."""
    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        **extra,
    }


def stop_processes(procs: list[subprocess.Popen], timeout: float = 30.0) -> None:
    """SIGTERM what still runs, wait (kill after `timeout`), print the tail of each output."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        print((output or "")[-3000:])
