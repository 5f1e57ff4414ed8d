"""Job queues behind one interface (``app.lib.runtime.JobQueue``): SAQ on Redis in production, an
in-process queue in embedded mode. Both carry only a job name and a row id; the row is the truth.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from redis.asyncio import Redis
from saq import Queue as SaqQueueImpl

from app.lib.runtime import JobQueue
from app.lib.stores import make_channels_backend

log = logging.getLogger("board3.worker")

SAQ_FUNCTION = "board3_job"


class LocalQueue:
    """Embedded mode: jobs wait in memory for the in-process worker. A job lost with the process is
    found again by the sweeper at the next start."""

    def __init__(self) -> None:
        self.jobs: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    async def enqueue(self, job: str, key: str) -> None:
        self.jobs.put_nowait((job, key))


class SaqQueue:
    """Production: SAQ on Redis. A job runs once (no SAQ retries: the sweeper decides what a lost
    run becomes) and has no SAQ timeout (terraform's own timeout applies)."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.saq = SaqQueueImpl.from_url(redis_url, name=f"{prefix}:jobs")

    async def enqueue(self, job: str, key: str) -> None:
        # "target", not "key": SAQ jobs have a "key" of their own (it would dedupe enqueues)
        await self.saq.enqueue(SAQ_FUNCTION, job=job, target=key, timeout=0, retries=1, ttl=3600)

    async def close(self) -> None:
        await self.saq.disconnect()


def make_queue(redis_url: str | None, prefix: str) -> LocalQueue | SaqQueue:
    return LocalQueue() if redis_url is None else SaqQueue(redis_url, prefix)


class QueuedPublisher:
    """``Publisher`` for a worker process (no Litestar app): messages go out in order from one task;
    one that cannot be sent is dropped with a warning (live followers fill gaps from the database)."""

    def __init__(self, redis: Redis | None, prefix: str) -> None:
        self.backend = make_channels_backend(redis, prefix)
        self.pending: asyncio.Queue[tuple[bytes, list[str]]] = asyncio.Queue(maxsize=10_000)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self._send())

    def publish(self, data: bytes, channels: str | Iterable[str]) -> None:
        names = [channels] if isinstance(channels, str) else list(channels)
        try:
            self.pending.put_nowait((data, names))
        except asyncio.QueueFull:
            log.warning("live updates are backing up; dropping one")

    async def _send(self) -> None:
        while True:
            data, names = await self.pending.get()
            try:
                await self.backend.publish(data, names)
            except Exception as exc:
                log.warning("could not publish a live update: %s", exc)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


__all__ = ["JobQueue", "LocalQueue", "QueuedPublisher", "SaqQueue", "make_queue"]
