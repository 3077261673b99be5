"""Feature store fixtures: a definitions document, a clean offline schema and online prefix
per test, and a source table in an allowed schema."""

import os

import pytest
import redis
from django.conf import settings
from django.db import connection

PREFIX = f"fs-test-{os.getpid()}"

DOCUMENT = {
    "entities": [{"name": "user", "join_keys": [{"name": "user_id", "type": "int"}], "description": "A customer."}],
    "feature_views": [
        {
            "name": "user_stats",
            "entity": "user",
            "features": [
                {"name": "age", "type": "int"},
                {"name": "spend", "type": "float"},
                {"name": "plan", "type": "string"},
                {"name": "active", "type": "bool"},
            ],
            "source": {"kind": "push"},
            "ttl": "1d",
            "tags": {"team": "growth"},
        }
    ],
    "feature_services": [{"name": "churn", "features": ["user_stats:age", "user_stats:spend", "user_stats:plan"]}],
}


@pytest.fixture(autouse=True)
def feature_store_isolation(settings):
    settings.FEATURE_ONLINE_PREFIX = PREFIX
    settings.FEATURE_PUSH_SCHEMA = f"feature_push_test_{os.getpid()}"
    settings.FEATURE_SOURCE_SCHEMAS = [f"feature_data_test_{os.getpid()}"]
    yield
    conn = redis.Redis.from_url(settings.FEATURE_ONLINE_REDIS_URL)
    keys = list(conn.scan_iter(f"{PREFIX}:*", count=10_000))
    for start in range(0, len(keys), 5000):
        conn.delete(*keys[start : start + 5000])


@pytest.fixture
def drop_schemas(transactional_db):
    """For tests that commit (transactional_db): drop the schemas they created."""
    yield
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{settings.FEATURE_PUSH_SCHEMA}" CASCADE')
        for schema in settings.FEATURE_SOURCE_SCHEMAS:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def document(**changes):
    import copy

    doc = copy.deepcopy(DOCUMENT)
    for key, value in changes.items():
        doc[key] = value
    return doc


def start_worker(**env: str):
    """A real Celery worker on this test's database, queue and feature store settings."""
    import subprocess
    import sys

    from tests.processes import process_env

    env = process_env(
        CELERY_TASK_ALWAYS_EAGER="false", FEATURE_ONLINE_PREFIX=settings.FEATURE_ONLINE_PREFIX,
        FEATURE_SOURCE_SCHEMAS=settings.FEATURE_SOURCE_SCHEMAS[0], FEATURE_PUSH_SCHEMA=settings.FEATURE_PUSH_SCHEMA, **env,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "control_plane", "worker", "--pool=solo", "--loglevel=WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
