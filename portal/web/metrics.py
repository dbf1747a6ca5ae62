"""What `/metrics` reports, in the Prometheus text format: one registry per served app.

This process's requests — counted by method, route template (`/api/v1/bundles/{bundle_id}`,
never the path asked for, so no id becomes a label) and status, and timed in a histogram — and
whatever collectors the app adds (the internal app: the archive's figures, read at scrape time).
Each `casevault serve` process keeps its own request counts: scrape every replica.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "(unmatched)"  # a path no route took: one label for them all, whatever was asked
# Seconds: from a page served from memory to a deposit or an evidence package.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    """One app's registry: its request counters, latency histogram and added collectors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "casevault_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "casevault_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route template.",
            ("method", "route"),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "casevault_http_requests_in_flight", "Requests being handled now.", registry=self.registry
        )

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def add(self, collector: Collector) -> None:
        """Report what `collector` reads at each scrape as well."""
        self.registry.register(collector)

    def exposition(self) -> bytes:
        """Everything, in the Prometheus text format."""
        return generate_latest(self.registry)
