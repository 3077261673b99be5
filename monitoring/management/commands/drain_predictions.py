import logging
import signal
import socket
import threading

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections, connection

from monitoring.drain import drain_once
from monitoring.prediction_log import active_backend

logger = logging.getLogger("monitoring.drain")


class Command(BaseCommand):
    help = (
        "Move prediction records from the Redis stream PREDICTION_STREAM into the database, in "
        "batches, acknowledging each batch after it commits. Runs until SIGTERM or SIGINT; run one "
        "per host (or give each a distinct --consumer). Safe to kill: unacknowledged batches are "
        "re-read on restart, or claimed by another drainer, and never stored twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--consumer", default=socket.gethostname(),
                            help="Consumer name in the group (default: the host name). Keep it stable across restarts.")
        parser.add_argument("--batch", type=int, default=settings.PREDICTION_DRAIN_BATCH,
                            help="Records per transaction (default: PREDICTION_DRAIN_BATCH).")
        parser.add_argument("--once", action="store_true", help="Drain what is waiting now, then exit.")
        parser.add_argument("--block-ms", type=int, default=2000, help="How long to wait for new records per read.")
        parser.add_argument("--linger-ms", type=int, default=settings.PREDICTION_DRAIN_LINGER_MS,
                            help="After a batch smaller than --batch, wait this long before reading again "
                                 "(default: PREDICTION_DRAIN_LINGER_MS).")
        parser.add_argument("--claim-idle-ms", type=int, default=60_000,
                            help="Claim entries another consumer has held unacknowledged for this long.")
        parser.add_argument("--method", choices=["auto", "copy", "bulk"], default="auto",
                            help="copy: COPY + INSERT ... SELECT (PostgreSQL); bulk: bulk_create.")
        parser.add_argument("--pause-after-insert-ms", type=int, default=0,
                            help="Test aid: wait this long between each batch's commit and its acknowledgement.")

    def handle(self, *args, consumer, batch, once, block_ms, linger_ms, claim_idle_ms, method, pause_after_insert_ms,
               **options):
        if active_backend() != "redis":
            raise CommandError("The prediction log writes directly to the database here (no REDIS_URL): nothing to drain.")
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        if linger_ms < 0:
            raise CommandError("--linger-ms must be 0 or more.")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"Draining {settings.PREDICTION_STREAM} as {consumer} (batch {batch}).")
        self.stdout.flush()
        total, backoff = 0, 1.0
        while not stop.is_set():
            close_old_connections()
            try:
                settled = drain_once(
                    consumer=consumer,
                    batch=batch,
                    block_ms=0 if once else block_ms,
                    claim_idle_ms=claim_idle_ms,
                    method=method,
                    pause_after_insert_ms=pause_after_insert_ms,
                )
            except (redis.RedisError, DatabaseError) as exc:
                if once:
                    raise CommandError(f"Drain failed: {type(exc).__name__}: {exc}") from exc
                logger.warning("Drain failed (%s: %s); retrying in %.0f s.", type(exc).__name__, exc, backoff)
                connection.close()
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            total += settled
            if settled:
                logger.debug("Stored and acknowledged %d record(s) (%d in all).", settled, total)
            elif once:
                break
            if 0 < settled < batch and not once and linger_ms:
                # Keeping up: let entries gather, so each transaction, COPY and XACK carries many.
                stop.wait(linger_ms / 1000)
        self.stdout.write(f"Stopped after {total} record(s).")
