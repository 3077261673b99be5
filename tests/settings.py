"""Settings for the test run: the real PostgreSQL and Redis on 127.0.0.1 unless the
environment names others."""

import getpass
import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/control_plane")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("CELERY_QUEUE", f"control-plane-test-{os.getpid()}")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
os.environ.setdefault("PREDICTION_STREAM", f"predictions-test-{os.getpid()}")
# Playwright's sync API runs an event loop in the test thread; the ORM calls made by
# the tests themselves are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# The local receivers, SMTP and MLflow servers of the tests listen on loopback.
os.environ.setdefault("EGRESS_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
# Models saved by the tests live in pytest's temporary folders.
os.environ.setdefault("LOCAL_SOURCE_ROOTS", os.path.join(tempfile.gettempdir(), f"pytest-of-{getpass.getuser()}"))
os.environ.setdefault("PREDICT_REQUEST_ID_TTL_SECONDS", "900")
# The tests' own key: with DEBUG off, the published default is a system check error.
os.environ.setdefault("SECRET_KEY", "tests-only-key-" + "k" * 40)

from control_plane.settings import *  # noqa: E402,F403
from control_plane.settings import STORAGES  # noqa: E402

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed: tests create many users
STATIC_ROOT = None  # nothing is collected in tests; WhiteNoise serves from the finders
WHITENOISE_USE_FINDERS = True
