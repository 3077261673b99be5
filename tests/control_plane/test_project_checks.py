"""Project-level checks, each run as `manage.py` in a subprocess like CI runs them."""

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parents[2]
# Variables the test settings set for this process; the subprocesses choose their own.
TEST_ONLY = ("REDIS_URL", "CELERY_QUEUE", "CELERY_TASK_ALWAYS_EAGER", "DJANGO_ALLOW_ASYNC_UNSAFE",
             "TEST_DATABASE_NAME", "SILENCED_SYSTEM_CHECKS", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180
    )


def settings_env() -> dict:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}

def test_no_missing_migrations():
    result = manage("makemigrations", "--check", "--dry-run", env=settings_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout

def test_check_deploy_is_clean_with_production_settings():
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY and not k.startswith("DJANGO_")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "control_plane.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "SECURE_SSL_REDIRECT": "true",
        "SECURE_COOKIES": "true",
        "SECURE_HSTS_SECONDS": "31536000",
        "ALLOWED_HOSTS": "cp.example.com",
        "DATABASE_URL": os.environ["DATABASE_URL"],
    }
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout + result.stderr

def test_check_deploy_does_flag_an_insecure_configuration():
    """The clean result above means something: the same command does fail on dev settings."""
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY and not k.startswith("DJANGO_")}
    env |= {"DJANGO_SETTINGS_MODULE": "control_plane.settings", "DATABASE_URL": os.environ["DATABASE_URL"]}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "security.W" in result.stdout + result.stderr

def test_openapi_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    result = manage("spectacular", "--validate", "--fail-on-warn", "--file", str(out), env=settings_env())
    assert result.returncode == 0, result.stdout + result.stderr
    schema = yaml.safe_load(out.read_text())
    assert schema["openapi"].startswith("3.")
    for path in ("/api/v1/models/", "/api/v1/models/{name}/versions/", "/api/v1/promotions/{id}/approve/",
                 "/api/v1/models/{name}/rollback/", "/api/v1/events/", "/api/v1/tokens/"):
        assert path in schema["paths"], path
    assert "BearerAuth" in schema["components"]["securitySchemes"]


def _production_like_env(**extra) -> dict:
    """Production settings with an empty var/ of their own (no key file from a `make run`)."""
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY and not k.startswith("DJANGO_")}
    return env | {
        "DJANGO_SETTINGS_MODULE": "control_plane.settings",
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "CONTROL_PLANE_VAR_DIR": tempfile.mkdtemp(prefix="cp-var-"),
    } | extra


def test_the_published_default_secret_key_refuses_to_start_without_debug():
    """Not a --deploy warning: a plain `check` (run by migrate, runserver and the WSGI app) fails."""
    result = manage("check", env=_production_like_env(DEBUG="false"))
    assert result.returncode != 0
    assert "control_plane.E001" in result.stdout + result.stderr
    published = manage("check", env=_production_like_env(DEBUG="false", SECRET_KEY="change-me-to-50-or-more-random-characters"))
    assert published.returncode != 0 and "control_plane.E001" in published.stdout + published.stderr


def test_the_wsgi_application_refuses_to_load_with_the_default_key():
    code = "import control_plane.wsgi"
    result = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=_production_like_env(DEBUG="false"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_a_real_key_or_debug_mode_starts():
    assert manage("check", env=_production_like_env(DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50))).returncode == 0
    assert manage("check", env=_production_like_env(DEBUG="true")).returncode == 0


def test_the_key_make_run_wrote_into_var_is_used_by_manage_py_commands():
    """The README's commands after `make run` (create_api_token, ...) find the demo's key."""
    env = _production_like_env(DEBUG="false")
    Path(env["CONTROL_PLANE_VAR_DIR"], "secret_key").write_text(secrets.token_urlsafe(50) + "\n")
    result = manage("check", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
