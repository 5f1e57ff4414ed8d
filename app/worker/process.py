"""Workers: the job registry, the in-process worker of an embedded server, the ``board3 worker``
process fed by SAQ, and the upkeep every worker does (heartbeat row, sweeper, metrics).

Jobs take an id, re-read and lease their row, and are idempotent (``app.pipelines.jobs``); the
queue is only how the id travels. A worker that dies is found by another's sweeper.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from saq import Worker as SaqWorker

from app.config import Settings
from app.db import engine as db_engine
from app.db import get_engine
from app.db.migrate import ensure_migrated
from app.drift import jobs as drift_jobs
from app.drift import scheduler as drift_scheduler
from app.lib import runtime
from app.lib.clock import utcnow
from app.lib.gate import make_gate
from app.lib.health import Check
from app.lib.redis import make_redis
from app.notifications.dispatcher import Dispatcher
from app.notifications.subscribers import SUBSCRIBERS
from app.pipelines import jobs as execution_jobs
from app.pipelines import metrics as pipeline_metrics
from app.pipelines import operations
from app.pipelines.sweeper import sweep
from app.sandbox.install import install_mirror
from app.terraform.catalog import get_catalog
from app.terraform.runner import remove_orphans
from app.worker.queue import SAQ_FUNCTION, LocalQueue, QueuedPublisher, SaqQueue
from app.worker.tables import WorkerRow

log = logging.getLogger("board3.worker")

UPKEEP_SECONDS = 5.0
SEEN_WITHIN = dt.timedelta(minutes=1)  # /health/ready counts workers seen this recently

Job = Callable[[str, str, Settings], Awaitable[None]]


async def _execution(key: str, worker_id: str, settings: Settings) -> None:
    await execution_jobs.run_execution(uuid.UUID(key), worker_id, settings)


async def _drift_check(key: str, worker_id: str, settings: Settings) -> None:
    await drift_scheduler.start_claimed(key, settings)  # idempotent: each check is recorded once


# Every background job, by the name the queue carries. (Periodic work is in ``Upkeep``.)
JOBS: dict[str, Job] = {"execution": _execution, drift_scheduler.JOB: _drift_check}

# Executions of other domains' internal operations (a drift check) run through the "execution" job.
operations.register(drift_jobs.OPERATION)


def new_worker_id() -> str:
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def run_job(job: str, key: str, worker_id: str, settings: Settings) -> None:
    handler = JOBS.get(job)
    if handler is None:
        log.error("unknown job %r (key %s) dropped", job, key)
        return
    log.info("job %s %s started", job, key)
    try:
        await handler(key, worker_id, settings)
    except Exception:
        log.exception("job %s %s failed", job, key)
    else:
        log.info("job %s %s finished", job, key)


class Upkeep:
    """What every worker does besides jobs: say it is alive, sweep, start the drift checks that
    are due, refresh the metrics."""

    def __init__(self, worker_id: str, settings: Settings, running: Callable[[], int]) -> None:
        self.worker_id = worker_id
        self.settings = settings
        self.running = running
        self.started_at = utcnow()
        self.task: asyncio.Task[None] | None = None
        self.webhooks = Dispatcher(worker_id, settings)  # its own 1 s tick: deliveries are short

    def start(self) -> None:
        self.task = asyncio.create_task(self._loop())
        self.webhooks.start()

    async def _loop(self) -> None:
        grace = dt.timedelta(seconds=self.settings.worker.lease_seconds)
        try:  # what a worker killed on this machine left behind (backend credentials, plans)
            removed = await asyncio.to_thread(remove_orphans, self.settings.worker.work_dir)
            if removed:
                log.info("removed %d workspace(s) of dead processes", removed)
        except OSError as exc:
            log.warning("could not look for orphaned workspaces: %s", exc)
        while True:
            steps = (
                self.beat,
                lambda: sweep(grace),
                lambda: drift_scheduler.tick(self.settings),
                pipeline_metrics.refresh,
            )
            for step in steps:
                try:
                    await step()
                except Exception as exc:  # the database may be away: try again next round
                    log.warning("worker upkeep step failed: %s", exc)
            await asyncio.sleep(UPKEEP_SECONDS)

    async def beat(self) -> None:
        values: dict[Any, Any] = {
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "concurrency": self.settings.worker.concurrency,
            "running": self.running(),
            "last_seen_at": utcnow(),
        }
        updated = await WorkerRow.update(values).where(WorkerRow.id == self.worker_id).returning(WorkerRow.id)
        if not updated:
            row = WorkerRow(id=self.worker_id, started_at=self.started_at, **values)
            await WorkerRow.insert(row).on_conflict(action="DO NOTHING")

    async def stop(self) -> None:
        await self.webhooks.stop()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        with contextlib.suppress(Exception):
            await WorkerRow.delete().where(WorkerRow.id == self.worker_id)


async def workers_seen() -> int:
    return int(await WorkerRow.count().where(WorkerRow.last_seen_at > utcnow() - SEEN_WITHIN))


async def workers_check() -> Check:
    """Reported by ``/health/ready`` in production, never fatal: without workers executions wait,
    the API works."""
    try:
        count = await asyncio.wait_for(workers_seen(), timeout=5)
    except Exception as exc:
        return Check(name="workers", ok=False, detail=type(exc).__name__, fatal=False)
    return Check(name="workers", ok=count > 0, detail=f"{count} seen in the last minute", fatal=False)


class InProcessWorker:
    """An embedded server's worker: takes jobs from a ``LocalQueue``, at most ``concurrency`` at
    once. Stopping it cancels running jobs (terraform is killed; the sweeper ends their runs)."""

    def __init__(self, queue: LocalQueue, settings: Settings) -> None:
        self.queue = queue
        self.settings = settings
        self.worker_id = new_worker_id()
        self.running: set[asyncio.Task[None]] = set()
        self.upkeep = Upkeep(self.worker_id, settings, lambda: len(self.running))
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await get_ready(self.settings)
        self.upkeep.start()
        self.task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        slots = asyncio.Semaphore(self.settings.worker.concurrency)
        while True:
            job, key = await self.queue.jobs.get()
            await slots.acquire()
            task = asyncio.create_task(run_job(job, key, self.worker_id, self.settings))
            self.running.add(task)

            def done(t: asyncio.Task[None]) -> None:
                self.running.discard(t)
                slots.release()

            task.add_done_callback(done)

    async def stop(self) -> None:
        for task in [self.task, *self.running]:
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *(t for t in [self.task, *self.running] if t is not None), return_exceptions=True
        )
        await self.upkeep.stop()


def _saq_worker(queue: SaqQueue, worker_id: str, settings: Settings, *, signals: bool) -> SaqWorker[Any]:
    async def board3_job(ctx: Any, *, job: str, target: str) -> None:
        await run_job(job, target, worker_id, settings)

    worker: SaqWorker[Any] = SaqWorker(
        queue.saq,
        functions=[(SAQ_FUNCTION, board3_job)],
        id=worker_id,
        concurrency=settings.worker.concurrency,
        dequeue_timeout=1.0,
        shutdown_grace_period_s=settings.worker.lease_seconds,
    )
    if not signals:  # inside a server: uvicorn owns SIGINT/SIGTERM
        worker.SIGNALS = []
    return worker


class InProcessSaqWorker:
    """A server that also works (``BOARD3_WORKERS_IN_PROCESS`` with Redis): a SAQ worker in it."""

    def __init__(self, queue: SaqQueue, settings: Settings) -> None:
        self.settings = settings
        self.worker_id = new_worker_id()
        self.saq = _saq_worker(queue, self.worker_id, settings, signals=False)
        self.upkeep = Upkeep(self.worker_id, settings, lambda: len(self.saq.job_task_contexts))
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await get_ready(self.settings)
        self.upkeep.start()
        self.task = asyncio.create_task(self.saq.start())

    async def stop(self) -> None:
        await self.saq.stop()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
        await self.upkeep.stop()


async def get_ready(settings: Settings) -> None:
    """Before the first job: the sandbox provider's mirror in place (when the sandbox is on), and
    the resource catalog loaded (about 0.2 s the first execution would otherwise wait)."""

    def ready() -> None:
        if settings.sandbox_enabled:
            install_mirror(settings.data_dir)
        get_catalog()

    await asyncio.to_thread(ready)


def make_in_process_worker(
    queue: LocalQueue | SaqQueue, settings: Settings
) -> InProcessWorker | InProcessSaqWorker:
    if isinstance(queue, LocalQueue):
        return InProcessWorker(queue, settings)
    return InProcessSaqWorker(queue, settings)


async def serve(settings: Settings) -> None:
    """``board3 worker``: take jobs from SAQ on Redis until SIGINT/SIGTERM."""
    if settings.redis.url is None:
        raise RuntimeError("board3 worker needs REDIS_URL (an embedded server runs its own worker)")
    engine = get_engine()
    await db_engine.start(engine, settings)
    await ensure_migrated()  # refuses to work on a schema older than this code
    redis = make_redis(settings.redis.url)
    gate = make_gate(redis, settings.redis.prefix, settings.redis.url)
    publisher = QueuedPublisher(redis, settings.redis.prefix)
    queue = SaqQueue(settings.redis.url, settings.redis.prefix)
    worker_id = new_worker_id()
    token = runtime.bind(runtime.Runtime(gate=gate, channels=publisher, jobs=queue, subscribers=SUBSCRIBERS))
    await publisher.start()
    await get_ready(settings)
    saq_worker = _saq_worker(queue, worker_id, settings, signals=True)
    upkeep = Upkeep(worker_id, settings, lambda: len(saq_worker.job_task_contexts))
    upkeep.start()
    log.info("worker %s started (concurrency %d)", worker_id, settings.worker.concurrency)
    try:
        await saq_worker.start()
    finally:
        await upkeep.stop()
        await publisher.stop()
        await queue.close()
        await gate.close()
        await redis.aclose()
        runtime.unbind(token)
        await db_engine.stop(engine)
        log.info("worker %s stopped", worker_id)
