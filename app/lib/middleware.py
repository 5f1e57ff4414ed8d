"""What every HTTP response gets: a request id (``X-Request-ID``, also in log lines), one
access-log line and the metrics (``app.lib.metrics``).

``RequestObserver`` wraps Litestar's router from outside its exception handling, so responses
Litestar makes from exceptions raised in middleware (401 and 429 from authentication) or for
unrouted paths are observed like any other: with their real status and with the header. As route
middleware it saw those exceptions fly past before any response existed.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.lib import metrics
from app.lib.logging import request_id_var

log = logging.getLogger("board3.access")

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestObserver:
    """Takes a sane incoming ``X-Request-ID`` or makes one, echoes it on the response, logs and
    counts the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if incoming and _VALID_ID.match(incoming) else uuid.uuid4().hex
        method = str(scope.get("method", ""))
        header = (b"x-request-id", request_id.encode())
        token = request_id_var.set(request_id)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500  # if nothing is sent, the server failed

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        start = time.perf_counter()
        metrics.IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, send_observed)
        finally:
            metrics.IN_PROGRESS.dec()
            seconds = time.perf_counter() - start
            metrics.record(method, scope.get("path_template"), status, seconds)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "principal": state.get("principal_label"),
                    },
                )
            request_id_var.reset(token)
