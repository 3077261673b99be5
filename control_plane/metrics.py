"""Prometheus metrics: request counts and latencies by route, promotions by status.

Counters live in the process; under gunicorn set PROMETHEUS_MULTIPROC_DIR so every
worker writes to a shared directory and /metrics adds them up.
"""

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

REQUESTS = Counter(
    "control_plane_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "control_plane_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


class PromotionCollector:
    """Reads promotion requests by status from the database at scrape time."""

    def collect(self):
        from registry.selectors import promotion_counts_by_status

        family = GaugeMetricFamily(
            "control_plane_promotion_requests", "Promotion requests by status.", labels=["status"]
        )
        for status, count in promotion_counts_by_status().items():
            family.add_metric([status], count)
        yield family


def render() -> tuple[bytes, str]:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    body = generate_latest(registry) + generate_latest(_db_registry())
    return body, CONTENT_TYPE_LATEST


def _db_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(PromotionCollector())
    return registry
