"""Prometheus metrics of this process, served at ``/metrics``.

Each Daphne process exposes its own numbers; Prometheus scrapes every process and sums them.
Labels use the URL *route* (``api/v1/users/me``), never the raw path, to keep cardinality bounded.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("fastsock_http_requests_total", "HTTP requests answered.", ["method", "route", "status"])
HTTP_DURATION = Histogram(
    "fastsock_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WEBSOCKET_CONNECTIONS = Gauge("fastsock_websocket_connections", "WebSocket connections open in this process.")
WEBSOCKET_REFUSED = Counter("fastsock_websocket_refused_total", "WebSocket handshakes refused.", ["reason"])
WEBSOCKET_FRAMES = Counter("fastsock_websocket_frames_total", "Client frames received, by outcome.", ["outcome"])

_KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def observe_http(*, method: str, route: str | None, status: int, seconds: float) -> None:
    method = method if method in _KNOWN_METHODS else "OTHER"
    route = route if route is not None else "unmatched"
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)
