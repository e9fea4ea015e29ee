"""Prometheus metrics: one registry per service app, with the shared HTTP series."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
UNMATCHED_ROUTE = "<unmatched>"
# The problem type of an error answer that carries none (a route's own 4xx, a decoy's).
UNTYPED = "untyped"


class HttpMetrics:
    """Requests by route, method and status, and a latency histogram by route."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from request start to the last response byte, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "errors",
            "Error answers (4xx and 5xx) by service and RFC 9457 problem type slug.",
            ["service", "type"],
            registry=registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._error_children: dict[tuple[str, str], Counter] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Record one finished request (label children are cached: this is the hot path)."""
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route),
            )
            # Route templates and methods are bounded; unknown paths share UNMATCHED_ROUTE.
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def error(self, service: str, problem_type: str | None) -> None:
        """Count one error answer of SERVICE (problem types are code constants: bounded)."""
        key = (service, problem_type or UNTYPED)
        child = self._error_children.get(key)
        if child is None:
            child = self._error_children[key] = self.errors.labels(*key)
        child.inc()


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in Prometheus text format, with its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
