"""HTTP metrics for ``/metrics``: requests, server errors, durations and requests in flight, per
method and route template.

Litestar's PrometheusMiddleware, which Board3 used before, builds a ``Request``, a label dict and a
``functools.wraps``-ed send wrapper and makes four ``.labels()`` lookups on every request: about
9% of a cached design read under py-spy (issue 4's notes). This middleware keeps the labelled
children per (method, route, status) after their first use, so a request costs two dict lookups.
The metric names are the ones the Litestar middleware used (prefix ``board3``); labels are
``method``, ``path`` (the route template, so cardinality stays bounded) and ``status_code``.
"""

from __future__ import annotations

import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

LABELS = ("method", "path", "status_code")

REQUESTS = Counter("board3_requests_total", "Requests answered", LABELS)
ERRORS = Counter("board3_requests_error_total", "Requests answered with a 5xx status", LABELS)
DURATION = Histogram("board3_request_duration_seconds", "Request duration, in seconds", LABELS)
IN_PROGRESS = Gauge(
    "board3_requests_in_progress", "Requests being handled", ("method", "path"), multiprocess_mode="livesum"
)

# Routes whose requests are not counted (the scrape itself).
EXCLUDED_PATHS = frozenset({"/metrics"})

_in_progress: dict[tuple[str, str], Any] = {}
_answered: dict[tuple[str, str, int], tuple[Any, Any, Any | None]] = {}


def _children(method: str, path: str, status: int) -> tuple[Any, Any, Any | None]:
    key = (method, path, status)
    children = _answered.get(key)
    if children is None:
        labels = (method, path, str(status))
        error = ERRORS.labels(*labels) if status >= 500 else None
        children = _answered[key] = (REQUESTS.labels(*labels), DURATION.labels(*labels), error)
    return children


def _status_of(exc: Exception) -> int:
    """The status the exception handlers will answer ``exc`` with (``AppError.status``,
    Litestar's ``HTTPException.status_code``; anything else is a 500)."""
    for attribute in ("status", "status_code"):
        value = getattr(exc, attribute, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    return 500


class MetricsMiddleware:
    """Counts every routed HTTP request (unrouted paths never reach route middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path_template") or scope["path"]
        if scope["type"] != "http" or path in EXCLUDED_PATHS:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]  # type: ignore[typeddict-item]  # an HTTP scope has one
        gauge = _in_progress.get((method, path))
        if gauge is None:
            gauge = _in_progress[(method, path)] = IN_PROGRESS.labels(method, path)
        status = 500  # if nothing is sent, the server failed

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        start = time.perf_counter()
        gauge.inc()
        try:
            await self.app(scope, receive, send_status)
        except Exception as exc:  # answered by the exception handlers outside route middleware
            status = _status_of(exc)
            raise
        finally:
            gauge.dec()
            count, duration, error = _children(method, path, status)
            count.inc()
            duration.observe(time.perf_counter() - start)
            if error is not None:
                error.inc()
