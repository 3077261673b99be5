import signal
import socket
import threading

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection

from serving.stream import StreamError, StreamScorer


class Command(BaseCommand):
    help = (
        "Score a Redis stream: read messages (field `row`: a JSON object of feature: value) with a "
        "consumer group, validate and score each, XADD the result to the output stream and acknowledge "
        "it in the same transaction, log each prediction (variant stream). Malformed messages go to "
        "<input>:dead with the reason. At least once: a killed consumer's messages are re-read when it "
        "restarts under the same --consumer name, or claimed by another after --claim-idle-ms."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True)
        parser.add_argument("--model-version", dest="model_version", type=int, default=None,
                            help="Score with this version (default: the model's champion, following promotions).")
        parser.add_argument("--input-stream", required=True)
        parser.add_argument("--output-stream", required=True)
        parser.add_argument("--group", required=True)
        parser.add_argument("--consumer", default=socket.gethostname(),
                            help="Consumer name in the group (default: the host name). Keep it stable across restarts.")
        parser.add_argument("--count", type=int, default=100, help="Messages per read (scored together).")
        parser.add_argument("--block-ms", type=int, default=1000)
        parser.add_argument("--claim-idle-ms", type=int, default=60_000)
        parser.add_argument("--output-maxlen", type=int, default=None, help="Trim the output stream to about this many.")
        parser.add_argument("--redis-url", default=None, help="Default: REDIS_URL.")
        parser.add_argument("--max-messages", type=int, default=None, help="Stop after this many messages.")
        parser.add_argument("--once", action="store_true", help="Score what is waiting now, then exit.")

    def handle(self, *args, **o):
        url = o["redis_url"] or settings.REDIS_URL
        if not url:
            raise CommandError("No Redis: set REDIS_URL or give --redis-url.")
        if o["count"] < 1:
            raise CommandError("--count must be at least 1.")
        client = redis.Redis.from_url(url, socket_timeout=max(5.0, o["block_ms"] / 1000 + 5), socket_connect_timeout=5)
        scorer = StreamScorer(
            client,
            model_name=o["model"],
            version=o["model_version"],
            input_stream=o["input_stream"],
            output_stream=o["output_stream"],
            group=o["group"],
            consumer=o["consumer"],
            count=o["count"],
            block_ms=o["block_ms"],
            claim_idle_ms=o["claim_idle_ms"],
            output_maxlen=o["output_maxlen"],
        )
        stop = threading.Event()
        if not o["once"] and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"Scoring {o['input_stream']} -> {o['output_stream']} with {o['model']} "
                          f"as {o['group']}/{o['consumer']}.")
        self.stdout.flush()

        def should_stop() -> bool:
            if not connection.in_atomic_block:  # a long-running consumer drops stale connections
                close_old_connections()
            return stop.is_set()

        try:
            stats = scorer.run(max_messages=o["max_messages"], stop_when_idle=o["once"], should_stop=should_stop)
        except StreamError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Scored {stats.scored}, dead-lettered {stats.dead}.")
