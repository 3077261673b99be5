"""/healthz, /readyz (real PostgreSQL and Redis) and /metrics."""

import re

from control_plane.models import Event
from registry import services
from tests.conftest import promote, staged_version


def metric(text: str, name: str, **labels) -> float | None:
    """The value of one sample in Prometheus text format, or None when absent."""
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if found == {k: str(v) for k, v in labels.items()}:
            return float(m.group(3))
    return None


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r["X-Request-ID"]


def test_readyz_checks_database_and_broker(client, db):
    r = client.get("/readyz")
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "ok"
    assert r.json()["checks"] == {"database": "ok", "broker": "ok"}
    assert "mode" not in r.json()  # running on PostgreSQL, not the embedded SQLite


def test_readyz_answers_503_when_the_broker_is_unreachable(client, db, monkeypatch):
    from control_plane.celery import app

    real = app.connection_for_write
    monkeypatch.setattr(app, "connection_for_write", lambda url=None, **kw: real("redis://127.0.0.1:1/0", **kw))
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["status"] == "unavailable"
    assert r.json()["checks"]["database"] == "ok"
    assert r.json()["checks"]["broker"].startswith("error:")


def test_metrics_counts_requests_and_promotions_by_status(client, registered_model, contributor, approver):
    promote(contributor, approver)  # one approved
    for _ in range(3):
        staged_version(contributor)
    for version in (2, 3, 4):
        services.promotion_request(actor=contributor, model_name="churn-predictor", version=version)
    services.promotion_cancel(
        actor=contributor,
        request_id=registered_model.promotion_requests.get(version__version=4).pk,
    )

    before = client.get("/metrics").content.decode()
    assert client.get("/healthz").status_code == 200
    r = client.get("/metrics")

    assert r.status_code == 200 and r["Content-Type"].startswith("text/plain")
    text = r.content.decode()
    assert "# TYPE control_plane_http_requests_total counter" in text
    healthz = dict(name="control_plane_http_requests_total", method="GET", route="healthz", status="200")
    assert metric(text, **healthz) == (metric(before, **healthz) or 0) + 1
    assert metric(text, "control_plane_promotion_requests", status="pending") == 2
    assert metric(text, "control_plane_promotion_requests", status="approved") == 1
    assert metric(text, "control_plane_promotion_requests", status="cancelled") == 1
    assert metric(text, "control_plane_promotion_requests", status="rejected") == 0
    assert metric(text, "control_plane_http_request_duration_seconds_count", method="GET", route="healthz") >= 1
    assert Event.objects.filter(type="promotion.requested").count() == 4
