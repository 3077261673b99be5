"""Stream scoring against the real Redis (the test settings' db 15), streams named per test."""

import json
import uuid

import pytest
import redis
from django.conf import settings
from django.core.management import call_command

from monitoring.models import PredictionLog
from tests.serving.conftest import ROW

pytestmark = pytest.mark.django_db


@pytest.fixture
def streams():
    client = redis.Redis.from_url(settings.REDIS_URL)
    name = f"test-score-stream-{uuid.uuid4().hex[:10]}"
    names = {"input": f"{name}:in", "output": f"{name}:out", "dead": f"{name}:in:dead", "client": client}
    yield names
    client.delete(names["input"], names["output"], names["dead"])


def run(streams, *extra):
    call_command(
        "score_stream", "--model", "churn-predictor", "--input-stream", streams["input"],
        "--output-stream", streams["output"], "--group", "scorers", "--consumer", "c1", "--once", *extra,
    )


def send(streams, row, **fields) -> str:
    value = row if isinstance(row, str) else json.dumps(row)
    return streams["client"].xadd(streams["input"], {"row": value, **fields}).decode()


def test_rows_are_scored_to_the_output_stream_logged_and_acknowledged(served, streams):
    ids = [send(streams, ROW), send(streams, {**ROW, "support_tickets": 0, "tenure_months": 40.0}, request_id="mine-1")]

    run(streams)

    out = streams["client"].xrange(streams["output"])
    assert [e[1][b"source_id"].decode() for e in out] == ids
    first = json.loads(out[0][1][b"prediction"])
    assert set(first) == {"label", "probability"} and out[0][1][b"version"] == b"1"
    assert out[1][1][b"request_id"] == b"mine-1"
    assert streams["client"].xpending(streams["input"], "scorers")["pending"] == 0
    logged = PredictionLog.objects.filter(variant="stream", model_name="churn-predictor")
    assert sorted(logged.values_list("request_id", flat=True)) == sorted([f"{streams['input']}-{ids[0]}", "mine-1"])


def test_malformed_messages_go_to_the_dead_letter_stream_with_the_reason(served, streams):
    send(streams, "{not json")
    send(streams, [1, 2])
    send(streams, {**ROW, "support_tickets": "many"})
    streams["client"].xadd(streams["input"], {"other": "x"})
    good = send(streams, ROW)

    run(streams)

    dead = streams["client"].xrange(streams["dead"])
    reasons = [e[1][b"reason"].decode() for e in dead]
    assert len(dead) == 4
    assert "not JSON" in reasons[0] and "JSON object" in reasons[1]
    assert "support_tickets" in reasons[2] and "no 'row'" in reasons[3]
    assert json.loads(dead[0][1][b"payload"])["row"] == "{not json"
    assert [e[1][b"source_id"].decode() for e in streams["client"].xrange(streams["output"])] == [good]
    assert streams["client"].xpending(streams["input"], "scorers")["pending"] == 0
    assert PredictionLog.objects.filter(variant="stream").count() == 1


def test_messages_read_but_not_acknowledged_before_a_crash_are_scored_on_restart(served, streams):
    client = streams["client"]
    client.xgroup_create(streams["input"], "scorers", id="0", mkstream=True)
    first = send(streams, ROW)
    client.xreadgroup("scorers", "c1", {streams["input"]: ">"}, count=10)  # read, then the consumer died
    second = send(streams, ROW)
    assert client.xpending(streams["input"], "scorers")["pending"] == 1

    run(streams)

    out = [e[1][b"source_id"].decode() for e in client.xrange(streams["output"])]
    assert out == [first, second]
    assert client.xpending(streams["input"], "scorers")["pending"] == 0
    assert PredictionLog.objects.filter(variant="stream").count() == 2


def test_a_message_delivered_twice_is_logged_once(served, streams):
    client = streams["client"]
    message = send(streams, ROW)
    run(streams)
    client.xadd(streams["input"], {"row": json.dumps(ROW), "request_id": f"{streams['input']}-{message}"})

    run(streams)

    assert len(client.xrange(streams["output"])) == 2
    assert PredictionLog.objects.filter(variant="stream").count() == 1


def test_a_pinned_version_scores(served, streams):
    send(streams, ROW)
    run(streams, "--model-version", "2")
    out = streams["client"].xrange(streams["output"])
    assert out[0][1][b"version"] == b"2"
    assert PredictionLog.objects.get(variant="stream").model_version == 2
