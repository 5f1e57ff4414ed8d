"""What the code of one process runs with: the request gate, pub/sub channels and the job queue.

The composition roots build these once (``create_app`` for a server, ``board3 worker`` for a
worker process) and bind them as the current ``Runtime``: for every request through
``RuntimeBinding``, and for a worker's jobs with ``bind``. Services reach them with ``current()``
instead of module globals, so two apps in one process (tests) each use their own, and code running
outside any app finds nothing bound and says so rather than silently doing nothing.

Also process-level tuning applied once a server has started.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, Protocol

from litestar.types import ASGIApp, Receive, Scope, Send

from app.lib.gate import RequestGate


class Publisher(Protocol):
    """Pub/sub for live views (Litestar's ChannelsPlugin in a server; ``app.worker`` has a small
    one for worker processes). Publishing never blocks and never raises for a lost message."""

    def publish(self, data: bytes, channels: str | list[str]) -> None: ...


class JobQueue(Protocol):
    """Where background work is handed over: a job name and the id of the row that is its source
    of truth (``app.worker`` has the Redis and in-process implementations)."""

    async def enqueue(self, job: str, key: str) -> None:
        """Hand ``job`` for row ``key`` to a worker. Idempotent per (job, key) while it waits; a
        lost hand-over is found again by the sweeper, never assumed delivered."""


@dataclass(frozen=True, slots=True)
class Runtime:
    gate: RequestGate
    channels: Publisher | None = None
    jobs: JobQueue | None = None
    # Reactions to domain events (``app.events.bus``), run inside the emitting transaction.
    subscribers: tuple[Callable[[Any], Awaitable[None]], ...] = ()


_current: ContextVar[Runtime | None] = ContextVar("board3_runtime", default=None)


def current() -> Runtime | None:
    return _current.get()


def bind(runtime: Runtime | None) -> Token[Runtime | None]:
    """Make ``runtime`` the current one in this context; ``unbind`` with the token undoes it."""
    return _current.set(runtime)


def unbind(token: Token[Runtime | None]) -> None:
    _current.reset(token)


class RuntimeBinding:
    """ASGI wrapper built by ``create_app``: every request runs with the app's own runtime."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _current.set(self.runtime)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)


def freeze_startup_heap() -> None:
    """Move everything alive after start-up (modules, routes, the resource catalog, templates) out of
    the garbage collector's sight. A full collection over that heap takes tens of milliseconds and
    would otherwise land on random requests as tail latency; those objects live as long as the
    process anyway."""
    gc.collect()
    gc.freeze()
