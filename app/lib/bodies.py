"""A bound on the request body bytes one process holds at once.

Each route bounds its own body (the JSON API at ``BOARD3_MAX_BODY_BYTES``, Terraform states at
``BOARD3_MAX_STATE_BYTES``), but many large bodies at once still add up: eight parallel 60 MiB
uploads took a process from 117 MB to 617 MB. ``BodyBudget`` wraps the ASGI app and charges every
body byte a request receives against ``BOARD3_MAX_INFLIGHT_BODY_BYTES`` until its response is
sent; a declared ``Content-Length`` is charged whole before the first byte is read. A body that
would pass the bound is refused with 503 and ``Retry-After`` (Terraform retries 5xx by itself).

Bytes are charged when the application reads them, so a request refused before it reads its body
(the Terraform routes authorize first) costs nothing; the server discards the rest of that body as
it arrives.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from app.lib.errors import ServiceUnavailable

RETRY_AFTER_SECONDS = 1


def _declared_length(scope: Scope) -> int:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return max(0, int(value))
            except ValueError:
                return 0  # the route says what is wrong with it
    return 0


class BodyBudget:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    def _take(self, size: int) -> None:
        if self.in_flight + size > self.limit:
            raise ServiceUnavailable(
                "the server is receiving as many request bodies as it holds at once; retry shortly",
                retry_after=RETRY_AFTER_SECONDS,
                code="server-busy",
            )
        self.in_flight += size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        charged = 0
        received = 0

        async def counted_receive() -> ReceiveMessage:
            nonlocal charged, received
            if declared > charged:
                self._take(declared - charged)
                charged = declared
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > charged:
                    self._take(received - charged)
                    charged = received
            return message

        try:
            await self.app(scope, counted_receive, send)
        finally:
            self.in_flight -= charged
