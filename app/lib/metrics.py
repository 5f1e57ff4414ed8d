"""HTTP metrics for ``/metrics``: requests, server errors and durations per method, route
template and status, and requests in flight.

Recorded by ``app.lib.middleware.RequestObserver`` for every response, including those refused
by middleware (401, 429) and unrouted paths (``path="<unmatched>"``). The labelled children are
kept after their first use, so a request costs two dict lookups; Litestar's PrometheusMiddleware,
used before, built a Request, a label dict and a wrapped send function and made four ``.labels()``
lookups per request (about 9% of a cached design read under py-spy on `bench/designs.py`).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

LABELS = ("method", "path", "status_code")
UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
EXCLUDED_PATHS = frozenset({"/metrics"})  # the scrape itself is not counted

REQUESTS = Counter("board3_requests_total", "Requests answered", LABELS)
ERRORS = Counter("board3_requests_error_total", "Requests answered with a 5xx status", LABELS)
DURATION = Histogram("board3_request_duration_seconds", "Request duration, in seconds", LABELS)
IN_PROGRESS = Gauge("board3_requests_in_progress", "HTTP requests being handled", multiprocess_mode="livesum")

_children: dict[tuple[str, str, int], tuple[Any, Any, Any | None]] = {}


def record(method: str, path_template: str | None, status: int, seconds: float) -> None:
    """Count one answered request. Labels stay bounded: route templates, not paths; methods
    outside the HTTP set are ``OTHER``."""
    path = path_template or UNMATCHED
    if path in EXCLUDED_PATHS:
        return
    key = (method, path, status)
    children = _children.get(key)
    if children is None:
        labels = (method if method in METHODS else "OTHER", path, str(status))
        error = ERRORS.labels(*labels) if status >= 500 else None
        children = _children[key] = (REQUESTS.labels(*labels), DURATION.labels(*labels), error)
    count, duration, error = children
    count.inc()
    duration.observe(seconds)
    if error is not None:
        error.inc()
