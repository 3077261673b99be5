"""Heartbeats for long jobs: while a job's work runs, a thread stamps the row's
`heartbeat_at` every HEARTBEAT_SECONDS. Each app's sweep (beat's "recover-stale-jobs",
every minute) treats a running row whose stamp is older than
HEARTBEAT_STALE_SECONDS as a job whose worker died: retried or failed, never left running."""

import logging
import threading

from django.conf import settings
from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, model, pk: int, *, status: str = "running"):
        self.model, self.pk, self.status = model, pk, status
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{model.__name__}-{pk}", daemon=True)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(settings.HEARTBEAT_SECONDS):
                try:
                    self.model.objects.filter(pk=self.pk, status=self.status).update(heartbeat_at=timezone.now())
                except Exception:  # noqa: BLE001 - a missed beat is retried at the next one
                    logger.warning("Heartbeat of %s %s failed", self.model.__name__, self.pk, exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)
        return False
