from tests.notifications.conftest import notify_settings, receiver, run_commits  # noqa: F401
