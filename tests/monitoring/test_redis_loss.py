"""Records in flight when Redis stops: each is stored or counted as dropped. A Redis server of
this module's own, configured as docker-compose.yml configures it (appendonly, fsync every
second), is stopped and started again; the shared one on 6379 is never touched."""

import subprocess

import pytest
import redis

from monitoring import prediction_log
from monitoring.drain import drain_until_empty
from monitoring.models import PredictionLog
from monitoring.prediction_log import DROPPED, log_predictions
from tests.processes import free_port, wait_for

from .conftest import make_record

pytestmark = pytest.mark.django_db


class OwnRedis:
    def __init__(self, folder):
        self.port, self.folder, self.process = free_port(), folder, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--save", "", "--appendonly", "yes", "--appendfsync", "everysec"],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        assert wait_for(lambda: _pings(client), timeout=20)

    def shutdown(self):
        """What `docker compose stop redis` does: SIGTERM, a clean shutdown."""
        self.process.terminate()
        self.process.wait(timeout=20)

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.RedisError:
        return False


@pytest.fixture
def own_redis(stream, settings, tmp_path, monkeypatch):
    server = OwnRedis(tmp_path)
    server.start()
    settings.REDIS_URL = server.url
    monkeypatch.setattr(prediction_log, "_redis_retry_at", 0.0)
    monkeypatch.setattr(prediction_log, "_stream_full", False)
    yield server
    server.kill()


def dropped() -> float:
    return sum(sample.value for metric in DROPPED.collect() for sample in metric.samples
               if sample.name.endswith("_total"))


def test_redis_stopped_while_serving_loses_no_record(own_redis, monkeypatch):
    before, total = dropped(), 600
    for i in range(total):
        if i == 200:
            own_redis.shutdown()  # 200 wait in the stream; the next ones go to the database directly
        if i == 400:
            own_redis.start()  # from its append-only file
            monkeypatch.setattr(prediction_log, "_redis_retry_at", 0.0)
        log_predictions([make_record(i)])

    drain_until_empty(consumer="t1")

    stored = set(PredictionLog.objects.values_list("request_id", flat=True))
    assert len(stored) + (dropped() - before) == total
    assert stored == {f"req-{i:06d}" for i in range(total)}


def test_a_backlog_past_the_cap_goes_to_the_database_not_trimmed_unseen(own_redis, settings):
    """MAXLEN trimming used to drop the oldest undrained records without a trace."""
    settings.PREDICTION_STREAM_MAXLEN = 50
    settings.PREDICTION_STREAM_LENGTH_CHECK_SECONDS = 0  # every call (by default once a second)
    before = dropped()
    for i in range(200):
        log_predictions([make_record(i)])

    assert redis.Redis(port=own_redis.port).xlen(settings.PREDICTION_STREAM) == 50
    drain_until_empty(consumer="t1")
    assert PredictionLog.objects.count() == 200
    assert dropped() == before


def test_a_failure_outside_redis_and_the_database_is_counted_not_raised(own_redis, monkeypatch):
    before = dropped()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(prediction_log, "_encode_all", broken)
    assert log_predictions([make_record(1), make_record(2)]) == "logged"
    assert dropped() - before == 2
