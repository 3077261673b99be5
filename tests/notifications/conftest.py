import pytest

from notifications import services

from .servers import start_receiver, start_smtp

WEBHOOK_SECRET = "whsec_" + "c2VjcmV0LWtleS1mb3ItdGVzdGluZy0xMjM0NTY3OA=="


@pytest.fixture(autouse=True)
def notify_settings(settings):
    settings.NOTIFY_RETRY_BASE_SECONDS = 0  # retries run at once; the backoff itself is tested alone
    settings.NOTIFY_ALLOW_HTTP = True
    settings.PUBLIC_BASE_URL = "https://cp.example.com"
    return settings


@pytest.fixture
def smtp(settings):
    controller, recorder = start_smtp()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield recorder
    controller.stop()


@pytest.fixture
def receiver():
    r = start_receiver()
    yield r
    r.release.set()
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def run_commits(django_capture_on_commit_callbacks):
    """Run what a real commit would: journal dispatch, then the delivery tasks (eager)."""

    def context():
        return django_capture_on_commit_callbacks(execute=True)

    return context


def make_channel(admin, kind, url_or_addresses, *, events=None, models=None, name=None, secret=WEBHOOK_SECRET):
    config = {"addresses": url_or_addresses} if kind == "email" else {"url": url_or_addresses}
    if kind == "webhook":
        config["secret"] = secret
    return services.channel_create(
        actor=admin,
        kind=kind,
        name=name or f"{kind}-channel",
        config=config,
        events=events if events is not None else [],
        models=models or [],
    )
