"""The drain worker as a real process: killed with SIGKILL between a batch's commit and its
acknowledgement, restarted, and counted. Rows logged must equal predictions served."""

import signal

import pytest
from django.db.models import Count

from monitoring.drain import GROUP, backlog, drain_once
from monitoring.models import PredictionLog
from monitoring.prediction_log import log_predictions, redis_client
from tests.processes import wait_for

from .conftest import make_record

N = 5_000
BATCH = 500

pytestmark = pytest.mark.worker


def serve(n: int) -> set[str]:
    """What serving does: log n one-row predictions, one call (one stream entry) each."""
    for i in range(n):
        log_predictions([make_record(i)])
    return {f"req-{i:06d}" for i in range(n)}


def assert_logged_exactly(served: set[str]) -> None:
    assert PredictionLog.objects.count() == len(served)
    assert set(PredictionLog.objects.values_list("request_id", flat=True)) == served
    duplicates = PredictionLog.objects.values("request_id", "model_name", "variant").annotate(n=Count("id")).filter(n__gt=1)
    assert not duplicates.exists()


def kill_mid_batch(drainer, stream, consumer: str) -> None:
    """Two batches drained and acked in process, then a drainer process that commits its
    first batch and is SIGKILLed before acknowledging it."""
    assert drain_once(consumer="warm-up", batch=BATCH) == BATCH
    assert drain_once(consumer="warm-up", batch=BATCH) == BATCH
    doomed = drainer("--consumer", consumer, "--batch", str(BATCH), "--pause-after-insert-ms", "600000")
    # Rows visible means the batch committed; it will not be acked for 10 minutes.
    assert wait_for(lambda: PredictionLog.objects.count() == 3 * BATCH), PredictionLog.objects.count()
    doomed.kill()
    assert doomed.wait(timeout=30) == -signal.SIGKILL

    # The kill landed between insert and ack: rows stored, entries still pending.
    assert PredictionLog.objects.count() == 3 * BATCH
    pending = redis_client().xpending(stream, GROUP)
    assert pending["pending"] == BATCH
    assert [c["name"] for c in pending["consumers"]] == [consumer.encode()]
    assert redis_client().xlen(stream) == N - 2 * BATCH


def finish(proc) -> None:
    assert wait_for(lambda: backlog() == {"length": 0, "pending": 0}), backlog()
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output  # a clean exit on SIGTERM
    assert "Stopped after" in output


def test_a_drainer_killed_between_insert_and_ack_restarts_and_logs_each_prediction_once(drainer, stream):
    served = serve(N)

    kill_mid_batch(drainer, stream, consumer="drainer-1")
    # Restarted under the same name, it first re-reads the batch it held (already stored: no-op).
    finish(drainer("--consumer", "drainer-1", "--batch", str(BATCH)))

    assert_logged_exactly(served)


def test_a_dead_drainers_batch_is_claimed_by_another_drainer(drainer, stream):
    served = serve(N)

    kill_mid_batch(drainer, stream, consumer="drainer-on-a-lost-host")
    finish(drainer("--consumer", "drainer-2", "--batch", str(BATCH), "--claim-idle-ms", "100"))

    assert_logged_exactly(served)
    assert redis_client().xpending(stream, GROUP)["pending"] == 0


def test_killed_while_serving_continues(drainer, stream):
    """No pause: kill the drainer wherever it happens to be while records keep arriving."""
    served = serve(2_000)
    first = drainer("--consumer", "drainer-1", "--batch", "100")
    assert wait_for(lambda: PredictionLog.objects.count() >= 500)
    first.kill()
    first.wait(timeout=30)
    served |= {f"req-{i:06d}" for i in range(2_000, 3_000)}
    log_predictions([make_record(i) for i in range(2_000, 3_000)])

    finish(drainer("--consumer", "drainer-1", "--batch", "100"))

    assert_logged_exactly(served)
