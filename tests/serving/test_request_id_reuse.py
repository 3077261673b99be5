"""A client-supplied request_id names one request: the same id with the same body is a retry
(answered again, logged once), with another body a 409. Remembered in Redis, so it holds across
serving processes; requests without an id of their own touch nothing extra."""

import json
import signal
import subprocess
import sys

import pytest
import redis
import requests
from django.conf import settings as django_settings

from control_plane.tokens import token_create
from monitoring.drain import drain_until_empty
from monitoring.models import PredictionLog
from tests.monitoring.conftest import stream  # noqa: F401  (the Redis backend, on a stream of its own)
from tests.processes import free_port, process_env, wait_for

from .conftest import ROW

URL = "/api/v1/serve/churn-predictor/predict"
OTHER_ROW = {**ROW, "support_tickets": 0, "tenure_months": 40.0}


def post(client, body):
    return client.post(URL, json.dumps(body), content_type="application/json")


def remembered_ids() -> list[bytes]:
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    return list(client.scan_iter(f"{django_settings.PREDICT_REQUEST_ID_PREFIX}:*"))


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=5).ok
    except (requests.ConnectionError, requests.Timeout):
        return False


@pytest.mark.django_db
@pytest.mark.parametrize("backend", ["direct", "stream"])
def test_same_body_is_a_retry_another_body_a_409(request, api, served, viewer, backend):
    if backend == "stream":
        request.getfixturevalue("stream")
    client = api(viewer)
    body = {"instances": [ROW], "request_id": "order-17"}

    first, again = post(client, body), post(client, {"request_id": "order-17", "instances": [ROW]})
    reused = post(client, {"instances": [OTHER_ROW], "request_id": "order-17"})

    assert first.status_code == again.status_code == 200, (first.content, again.content)
    assert again.json()["predictions"] == first.json()["predictions"]
    assert reused.status_code == 409, reused.content
    assert reused.json()["error"]["code"] == "request_id_reused"
    assert "order-17" in reused.json()["error"]["message"]
    if backend == "stream":
        drain_until_empty(consumer="t1")
    rows = PredictionLog.objects.filter(request_id__startswith="order-17")
    assert [(r.request_id, r.features) for r in rows] == [("order-17", ROW)]


@pytest.mark.django_db
def test_requests_without_an_id_of_their_own_remember_nothing(api, served, viewer):
    client = api(viewer)
    assert post(client, {"instances": [ROW]}).status_code == 200
    assert post(client, {"instances": [OTHER_ROW]}).status_code == 200
    assert remembered_ids() == []
    assert PredictionLog.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_reuse_is_refused_across_processes(served, viewer, tmp_path):
    env = process_env(PREDICTION_LOG_BACKEND="direct", CONTROL_PLANE_VAR_DIR=str(tmp_path / "var"),
                      PREDICT_REQUEST_ID_PREFIX=django_settings.PREDICT_REQUEST_ID_PREFIX)
    servers = []
    try:
        for _ in range(2):
            port = free_port()
            proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "control_plane.wsgi", "--bind",
                                     f"127.0.0.1:{port}", "--workers", "1", "--log-level", "warning"], env=env)
            servers.append((proc, f"http://127.0.0.1:{port}"))
        headers = {"Authorization": f"Bearer {token_create(actor=viewer, owner=viewer, name='serve').secret}"}

        for proc, url in servers:  # booted and answering (bounded wait)
            assert wait_for(lambda url=url: _healthy(url), timeout=120), "gunicorn did not start"

        def predict(url, row):
            return requests.post(f"{url}{URL}", json={"instances": [row], "request_id": "cross-1"},
                                 headers=headers, timeout=120)

        (_, a), (_, b) = servers
        assert predict(a, ROW).status_code == 200
        assert predict(b, ROW).status_code == 200
        assert predict(b, OTHER_ROW).status_code == 409
        assert PredictionLog.objects.filter(request_id="cross-1").count() == 1
    finally:
        for proc, _ in servers:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
