"""Read a streamed response (server-sent events) from the in-process app, chunk by chunk.

The session's ``client`` buffers whole responses, which never ends for an event stream; this
calls the same ASGI app (same event loop, database pool and channels) and hands chunks over as
they are sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit


class EventStream:
    def __init__(self, app: Any, path: str, headers: dict[str, str]) -> None:
        self.app = app
        self.path = path
        self.headers = headers
        self.status = 0
        self.buffer = ""
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._disconnect = asyncio.Event()
        self._started = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _scope(self) -> dict[str, Any]:
        url = urlsplit(self.path)
        headers = [(b"host", b"testserver.local")] + [
            (k.lower().encode(), v.encode()) for k, v in self.headers.items()
        ]
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": url.path,
            "raw_path": url.path.encode(),
            "query_string": url.query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver.local", 80),
            "state": {},
        }

    async def __aenter__(self) -> EventStream:
        async def receive() -> dict[str, Any]:
            await self._disconnect.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                self._started.set()
            elif message["type"] == "http.response.body":
                self.queue.put_nowait(message.get("body", b""))
                if not message.get("more_body"):
                    self.queue.put_nowait(None)

        self._task = asyncio.create_task(self.app(self._scope(), receive, send))
        await asyncio.wait_for(self._started.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._disconnect.set()
        assert self._task is not None
        await asyncio.wait_for(self._task, 10)

    async def body(self) -> bytes:
        """The whole body of a response that ends (an error instead of a stream)."""
        chunks = []
        while (chunk := await asyncio.wait_for(self.queue.get(), 10)) is not None:
            chunks.append(chunk)
        return b"".join(chunks)

    async def next_event(self, timeout: float = 10) -> dict[str, str] | None:
        """The next event (comments skipped) as ``{"event", "data", "id"}``; None when the stream ended."""
        return await next_sse_event(self.queue.get, self, timeout)


async def next_sse_event(
    read: Callable[[], Awaitable[bytes | None]], state: Any, timeout: float = 10
) -> dict[str, str] | None:
    """Parse server-sent events from chunks; ``state.buffer`` keeps what was read past an event."""

    async def go() -> dict[str, str] | None:
        while True:
            while "\r\n\r\n" in state.buffer or "\n\n" in state.buffer:
                sep = "\r\n\r\n" if "\r\n\r\n" in state.buffer else "\n\n"
                block, state.buffer = state.buffer.split(sep, 1)
                event: dict[str, str] = {}
                for line in block.replace("\r\n", "\n").split("\n"):
                    if not line or line.startswith(":"):
                        continue
                    key, _, value = line.partition(":")
                    event[key] = value[1:] if value.startswith(" ") else value
                if "data" in event or "event" in event:
                    return event
            chunk = await read()
            if chunk is None:
                return None
            state.buffer += chunk.decode()

    return await asyncio.wait_for(go(), timeout)
