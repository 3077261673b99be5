"""What the server will call on a user's word (control_plane/egress.py): refused when the
URL is configured (a clear 422 naming the field), and again when connecting."""

import socket

import pytest

from notifications.models import Channel, Delivery
from registry import services as registry
from tests.notifications.conftest import WEBHOOK_SECRET, make_channel
from tests.notifications.servers import start_receiver

pytestmark = pytest.mark.django_db

REFUSED = [
    "https://169.254.169.254/latest/meta-data/",
    "https://[::ffff:169.254.169.254]/",
    "http://127.0.0.1:6379/",
    "http://[::1]:6379/",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://localhost/x",
    "https://10.0.0.5/hook",
    "https://192.168.1.1/hook",
    "https://[fe80::1]/hook",
    "https://224.0.0.1/hook",
    "https://0.0.0.0/hook",
    "https://2130706433/hook",  # 127.0.0.1 as one number
    "https://[::127.0.0.1]/hook",  # IPv4-compatible IPv6
    "https://hooks.example.com/x\r\nX-Injected: 1",
    "https://user:secret@hooks.example.com/x",
    "ftp://hooks.example.com/x",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
]


@pytest.fixture
def no_allow_list(settings):
    settings.EGRESS_ALLOWED_HOSTS = []
    settings.EGRESS_ALLOWED_NETWORKS = []
    settings.NOTIFY_ALLOW_HTTP = True  # the scheme policy of notifications is not what is tested here
    return settings


@pytest.mark.parametrize("url", REFUSED)
def test_channel_urls_are_refused_when_configured(api, admin, no_allow_list, url):
    response = api(admin).post(
        "/api/v1/channels/",
        {"kind": "webhook", "name": "hook", "config": {"url": url, "secret": WEBHOOK_SECRET}, "events": []},
        format="json",
    )
    assert response.status_code == 422, response.content
    assert "url" in response.json()["error"]["details"]["config"]
    assert not Channel.objects.exists()


def test_a_channel_update_is_checked_too(api, admin, no_allow_list):
    channel = make_channel(admin, "slack", "https://hooks.example.com/services/x")
    response = api(admin).patch(f"/api/v1/channels/{channel.pk}/", {"config": {"url": REFUSED[0]}}, format="json")
    assert response.status_code == 422 and "url" in response.json()["error"]["details"]["config"]


@pytest.mark.parametrize("uri", [*REFUSED, "file:///tmp/mlruns", "sqlite:////tmp/mlflow.db", "databricks"])
def test_the_import_refuses_such_registry_uris(api, admin, no_allow_list, uri):
    response = api(admin).post("/api/v1/import/mlflow/", {"registry_uri": uri}, format="json")
    assert response.status_code == 422, response.content
    assert "registry_uri" in response.json()["error"]["details"]


def test_the_allow_list_admits_a_network_or_a_host(api, admin, settings):
    settings.EGRESS_ALLOWED_HOSTS, settings.EGRESS_ALLOWED_NETWORKS = [], ["10.0.0.0/8"]
    client = api(admin)
    body = {"kind": "webhook", "config": {"url": "https://10.1.2.3/hook", "secret": WEBHOOK_SECRET}, "events": []}
    assert client.post("/api/v1/channels/", {**body, "name": "a"}, format="json").status_code == 201
    settings.EGRESS_ALLOWED_HOSTS, settings.EGRESS_ALLOWED_NETWORKS = ["localhost"], []
    body["config"]["url"] = "https://localhost:8443/hook"
    assert client.post("/api/v1/channels/", {**body, "name": "b"}, format="json").status_code == 201


def test_an_allow_list_removed_later_stops_the_send(admin, contributor, receiver, run_commits, settings):
    channel = make_channel(admin, "webhook", receiver.url, events=["model.created"])  # loopback allowed then
    settings.EGRESS_ALLOWED_NETWORKS = []
    with run_commits():
        registry.model_create(actor=contributor, name="churn")

    assert receiver.requests == []
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.status == "failed"
    (attempt,) = delivery.attempts.all()
    assert attempt.status == "permanent_error"
    assert attempt.error.startswith("Refused by the egress rule: 127.0.0.1 is a loopback")


class FakeDns:
    """Answers for one made-up name, in turn (the last answer repeats): a DNS server that
    changes its answer, which the resolver of this machine cannot be made to do."""

    def __init__(self, monkeypatch, name: str, answers: list[str]):
        self.name, self.answers, self.asked = name, list(answers), 0
        real = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            if host != name:
                return real(host, port, *args, **kwargs)
            address = self.answers[min(self.asked, len(self.answers) - 1)]
            self.asked += 1
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_dns_rebinding_is_refused_at_send_time(admin, contributor, receiver, run_commits, settings, monkeypatch):
    settings.EGRESS_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    port = receiver.server.server_address[1]
    dns = FakeDns(monkeypatch, "hooks.rebind.test", ["127.0.0.2", "127.0.0.1"])
    channel = make_channel(admin, "webhook", f"http://hooks.rebind.test:{port}/hook", events=["model.created"])
    assert dns.asked == 1  # checked when configured: 127.0.0.2 is allowed
    with run_commits():
        registry.model_create(actor=contributor, name="churn")

    assert receiver.requests == []
    attempt = Delivery.objects.get(channel=channel).attempts.get()
    assert attempt.status == "permanent_error"
    assert "hooks.rebind.test resolves to 127.0.0.1" in attempt.error


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
    admin, contributor, receiver, run_commits, settings, monkeypatch
):
    """Resolved once: the address checked is the address connected to. A second resolution
    would answer 127.0.0.1, where `receiver` listens; the checked answer is 127.0.0.2."""
    port = receiver.server.server_address[1]
    allowed = start_receiver("127.0.0.2", port)
    try:
        settings.EGRESS_ALLOWED_NETWORKS = ["127.0.0.2/32"]
        channel = make_channel(admin, "webhook", f"http://hooks.rebind.test:{port}/hook", events=["model.created"])
        FakeDns(monkeypatch, "hooks.rebind.test", ["127.0.0.2", "127.0.0.1"])
        with run_commits():
            registry.model_create(actor=contributor, name="churn")
        assert receiver.requests == []
        (request,) = allowed.requests
        assert request.headers["host"] == f"hooks.rebind.test:{port}"
        assert Delivery.objects.get(channel=channel).status == "succeeded"
    finally:
        allowed.server.shutdown()
        allowed.server.server_close()


def test_errors_never_echo_the_remote_body(admin, contributor, receiver, run_commits):
    receiver.script = [400]
    channel = make_channel(admin, "webhook", receiver.url, events=["model.created"])
    with run_commits():
        registry.model_create(actor=contributor, name="churn")

    channel.refresh_from_db()
    attempt = Delivery.objects.get(channel=channel).attempts.get()
    assert attempt.error == channel.last_error == "HTTP 400 Bad Request"
    assert "invalid_payload" not in attempt.error + channel.last_error


def test_the_import_checks_its_connections_too(api, admin, settings, monkeypatch):
    """The MLflow client of the import runs inside egress.guarded(): a registry name that
    resolves elsewhere once configured is refused at connect time (422, nothing read)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.MLFLOW_TRACKING_URI = ""
        settings.EGRESS_ALLOWED_NETWORKS = ["127.0.0.2/32"]
        FakeDns(monkeypatch, "registry.rebind.test", ["127.0.0.2", "127.0.0.1"])
        uri = f"http://registry.rebind.test:{server.server_address[1]}"
        response = api(admin).post("/api/v1/import/mlflow/", {"registry_uri": uri}, format="json")
    finally:
        server.shutdown()
        server.server_close()

    assert response.status_code == 422, response.content
    assert "registry_uri" in response.json()["error"]["details"]
    assert seen == []
