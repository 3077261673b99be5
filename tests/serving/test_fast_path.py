"""The data plane's own handler (serving/fast_path.py), called as gunicorn calls the
project's WSGI application: same answers as the full stack, with the middleware it keeps."""

import json

import pytest
from prometheus_client import REGISTRY

from control_plane.wsgi import application
from monitoring.models import PredictionLog
from tests.wsgi_call import wsgi

from .conftest import ROW

pytestmark = pytest.mark.django_db
ROUTE = "api/v1/serve/<model:name>/predict"


def requests_seen(status: str) -> float:
    value = REGISTRY.get_sample_value(
        "control_plane_http_requests_total", {"method": "POST", "route": ROUTE, "status": status}
    )
    return value or 0.0


def test_predict_through_the_lean_handler_answers_like_the_full_stack(api, served, viewer, lean_paths):
    client = api(viewer)
    body = json.dumps({"instances": [ROW]}).encode()
    before = requests_seen("200")

    status, headers, content = wsgi(
        "POST", "/api/v1/serve/churn-predictor/predict", body, authorization=f"Bearer {client.token}",
        x_request_id="fast-1",
    )

    assert status == "200 OK"
    assert requests_seen("200") == before + 1  # MetricsMiddleware kept, same route label
    answer = json.loads(content)
    full = client.post("/api/v1/serve/churn-predictor/predict", body, content_type="application/json").json()
    assert answer["predictions"] == full["predictions"] and answer["model_version"] == full["model_version"] == 1
    assert answer["request_id"] == "fast-1" and headers["X-Request-ID"] == "fast-1"
    assert headers["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware kept
    assert "Set-Cookie" not in headers and "Vary" not in headers  # no sessions, no CSRF
    assert PredictionLog.objects.filter(request_id="fast-1").count() == 1

    status, headers, content = wsgi(
        "POST", "/api/v1/serve/churn-predictor/invocations", json.dumps({"dataframe_records": [ROW]}).encode(),
        authorization=f"Bearer {client.token}",
    )
    assert status == "200 OK" and headers["X-Model-Version"] == "1"
    assert lean_paths == ["/api/v1/serve/churn-predictor/predict", "/api/v1/serve/churn-predictor/invocations"]
    assert json.loads(content)["predictions"] == [p["label"] for p in answer["predictions"]]  # as mlflow answers


def test_refusals_keep_their_status_and_format(api, served, viewer, settings):
    token = api(viewer).token
    status, _, content = wsgi("POST", "/api/v1/serve/churn-predictor/predict", b'{"instances": [{}]}',
                              authorization=f"Bearer {token}")
    assert status.startswith("422") and json.loads(content)["error"]["code"] == "schema_violation"

    status, _, content = wsgi("POST", "/api/v1/serve/churn-predictor/predict", b"{}")
    assert status.startswith("401")

    settings.MAX_REQUEST_BYTES = 100
    status, _, content = wsgi("POST", "/api/v1/serve/churn-predictor/predict", b"x" * 200,
                              authorization=f"Bearer {token}")
    assert status.startswith("413") and json.loads(content)["error"]["code"] == "payload_too_large"

    status, _, _ = wsgi("POST", "/api/v1/serve/churn-predictor/nothing-here", b"{}")
    assert status.startswith("404")
    assert not PredictionLog.objects.exists()


def test_everything_else_goes_through_the_full_stack(viewer, lean_paths):
    status, headers, _ = wsgi("GET", "/api/v1/serve/churn-predictor/predict")
    assert status.startswith("405")  # the main URLconf's view, reached through every middleware
    status, headers, _ = wsgi("GET", "/accounts/login/")
    assert status == "200 OK" and "csrftoken" in headers.get("Set-Cookie", "")
    assert lean_paths == []
