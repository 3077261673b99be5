"""The drain under a steady trickle: after a partial batch it waits (--linger-ms) so records that
arrive meanwhile are stored in one transaction, not one transaction per request."""

import time

import pytest
from django.db import connection

from monitoring.models import PredictionLog
from monitoring.prediction_log import log_predictions
from tests.processes import wait_for

from .conftest import make_record

pytestmark = pytest.mark.worker


def transactions_by_request() -> dict[str, int]:
    """Each stored row's inserting transaction (xmin): rows of one COPY share it."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT request_id, xmin::text FROM {PredictionLog._meta.db_table}")
        return {request_id: int(xmin) for request_id, xmin in cursor.fetchall()}


def trickle(first: int, n: int) -> None:
    """n one-row predictions, 100 ms apart, as serving logs them (one stream entry each)."""
    for i in range(first, first + n):
        log_predictions([make_record(i)])
        time.sleep(0.1)


@pytest.mark.parametrize(("linger_ms", "expect_one_transaction"), [(3000, True), (0, False)])
def test_a_trickle_after_a_partial_batch_is_stored_together_only_when_lingering(
    drainer, linger_ms, expect_one_transaction
):
    drainer("--linger-ms", str(linger_ms), "--batch", "1000")
    log_predictions([make_record(0)])
    assert wait_for(lambda: PredictionLog.objects.count() == 1)

    trickle(1, 6)  # 600 ms: inside the linger that follows the first one-record batch
    assert wait_for(lambda: PredictionLog.objects.count() == 7)

    transactions = transactions_by_request()
    later = {transactions[f"req-{i:06d}"] for i in range(1, 7)}
    assert (len(later) == 1) is expect_one_transaction, later
    assert transactions["req-000000"] not in later


def test_a_negative_linger_is_refused(drainer):
    proc = drainer("--linger-ms", "-1")
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "--linger-ms must be 0 or more" in output
