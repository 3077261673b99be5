"""The production web server (scripts/web.sh: granian, two worker processes) as a live
process over real HTTP: keep-alive connections, the same answers as the Django path, the
same errors, and every prediction logged."""

import http.client
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from control_plane.tokens import token_create
from monitoring.models import PredictionLog
from tests.processes import free_port, process_env, wait_for

from .conftest import ROW

pytestmark = pytest.mark.django_db(transaction=True)
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "web.sh"
PREDICT = "/api/v1/serve/churn-predictor/predict"
INVOCATIONS = "/api/v1/serve/churn-predictor/invocations"
ROWS = [ROW, {**ROW, "support_tickets": 0, "tenure_months": 40.0}, {**ROW, "monthly_spend": 180.5}]


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok
    except (requests.ConnectionError, requests.Timeout):
        return False


@pytest.fixture
def web_server(served, tmp_path):
    port = free_port()
    env = process_env(PREDICTION_LOG_BACKEND="direct", CONTROL_PLANE_VAR_DIR=str(tmp_path / "var"),
                      PYTHON=sys.executable, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(["sh", str(SCRIPT), "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
                            env=env, start_new_session=True)
    try:
        assert wait_for(lambda: proc.poll() is None and _healthy(port), timeout=120), "scripts/web.sh did not start"
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _post(connection: http.client.HTTPConnection, path: str, body: dict, token: str | None):
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    connection.request("POST", path, body=json.dumps(body), headers=headers)
    answer = connection.getresponse()
    return answer.status, json.loads(answer.read())


def _same_answer(answer: dict) -> dict:
    """What must not depend on the server: everything but the ids and the time taken."""
    return {k: v for k, v in answer.items() if k not in ("request_id", "request_ids", "latency_ms")}


def test_answers_equal_the_django_path_on_one_kept_alive_connection(web_server, api, viewer):
    django_client = api(viewer)
    token = token_create(actor=viewer, owner=viewer, name="web").secret
    connection = http.client.HTTPConnection("127.0.0.1", web_server, timeout=60)
    bodies = [{"instances": [row]} for row in ROWS] + [{"instances": ROWS}]

    answers = [_post(connection, PREDICT, body, token) for body in bodies]
    sockets = {connection.sock.getsockname()}  # http.client reconnects (a new local port) after a close
    invocation = _post(connection, INVOCATIONS, {"dataframe_records": ROWS}, token)
    sockets.add(connection.sock.getsockname())
    connection.close()

    expected = [django_client.post(PREDICT, json.dumps(body), content_type="application/json") for body in bodies]
    assert [status for status, _ in answers] == [200] * len(bodies)
    assert [_same_answer(a) for _, a in answers] == [_same_answer(e.json()) for e in expected]
    expected_invocation = django_client.post(INVOCATIONS, json.dumps({"dataframe_records": ROWS}),
                                             content_type="application/json")
    assert invocation == (200, expected_invocation.json())
    assert len(sockets) == 1, "the server closed a keep-alive connection"

    served_ids = [i for _, a in answers for i in a["request_ids"]]
    assert len(served_ids) == 6
    assert sorted(PredictionLog.objects.filter(request_id__in=served_ids).values_list("request_id", flat=True)) == sorted(
        served_ids
    )
    # 6 rows over /predict, 3 over /invocations here, and the same again through Django
    assert PredictionLog.objects.count() == 18


def test_errors_equal_the_django_path(web_server, api, viewer):
    django_client = api(viewer)
    token = token_create(actor=viewer, owner=viewer, name="web").secret
    connection = http.client.HTTPConnection("127.0.0.1", web_server, timeout=60)
    bad_row = {"instances": [{**ROW, "support_tickets": "many"}]}

    invalid = _post(connection, PREDICT, bad_row, token)
    unauthenticated = _post(connection, PREDICT, {"instances": [ROW]}, None)
    unknown = _post(connection, "/api/v1/serve/no-such-model/predict", {"instances": [ROW]}, token)
    connection.close()

    expected = django_client.post(PREDICT, json.dumps(bad_row), content_type="application/json")
    assert invalid[0] == 422 and invalid[1]["error"]["code"] == "schema_violation"
    assert invalid[1]["error"]["details"] == expected.json()["error"]["details"]
    assert unauthenticated[0] == 401 and unauthenticated[1]["error"]["code"] == "not_authenticated"
    assert unknown[0] == 404 and unknown[1]["error"]["code"] == "model_not_found"
    assert PredictionLog.objects.count() == 0
