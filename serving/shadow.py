"""Shadow scoring off the request path: the challenger scores a copy of the request in
a small thread pool; its answer is logged, never returned. A slow, failing or
crashing challenger never delays or breaks the response: when the pool is busy the
copy is dropped (and counted), and errors are logged as errored shadow records."""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections

from monitoring.prediction_log import DROPPED

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 64
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="shadow")
_slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)
dropped = 0


def submit(job, *args) -> bool:
    """Run job(*args) in the background unless the pool is saturated."""
    global dropped
    if not _slots.acquire(blocking=False):
        dropped += 1
        DROPPED.labels("shadow_busy").inc()  # a shadow record that will never exist
        return False

    def run():
        try:
            job(*args)
        except Exception:
            log.exception("Shadow scoring failed")
        finally:
            close_old_connections()
            _slots.release()

    _pool.submit(run)
    return True
