"""The drift scheduler: a tick run by every worker process and every embedded server (``Upkeep``).

Schedules live in the database (``pipelines.drift_schedule`` and ``next_drift_check_at``), so any
number of processes can tick at once:

1. pipelines with a schedule and no due time yet (new, or whose schedule changed) get one;
2. due pipelines are claimed in batches by one conditional UPDATE that moves their due time to a
   short lease, and only if it is still due, so a row claimed by one process is not claimed by
   another, on PostgreSQL (the re-checked condition) as on SQLite (one writer at a time);
3. each claimed pipeline gets its check (``checks.create_check``), and its due time moves from the
   lease to the next due time in the same transaction. A process that dies in between leaves the
   lease to expire: the pipeline is due again and checked once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from app.config import Settings
from app.drift import checks
from app.drift.cadence import next_check
from app.lib.clock import utcnow
from app.lib.principal import Principal
from app.pipelines.schedule import Schedule, ScheduleError, parse_schedule
from app.pipelines.tables import Pipeline

log = logging.getLogger("board3.drift.scheduler")

SCHEDULER = Principal(kind="system", id=uuid.UUID(int=0), label="board3:drift-schedule")
LEASE = dt.timedelta(minutes=2)  # a claimed check not started by then is due again
BATCH = 200
CONCURRENCY = 4  # checks started at once by one process (each is one transaction)
BUDGET_SECONDS = 8.0  # one tick stops claiming after this long (the rest waits for the next tick)
INVALID_RETRY = dt.timedelta(hours=1)


@dataclass(slots=True)
class TickReport:
    armed: int = 0
    claimed: int = 0
    started: int = 0
    skipped: int = 0
    failed: int = 0


def _schedule(text: str) -> Schedule | None:
    try:
        return parse_schedule(text, dt.timedelta(0))  # the minimum was enforced when it was set
    except ScheduleError:
        return None


def due_after(text: str, after: dt.datetime, pipeline_id: uuid.UUID, max_jitter: dt.timedelta) -> dt.datetime:
    schedule = _schedule(text)
    if schedule is None:
        log.warning("pipeline %s has an unusable drift schedule %r", pipeline_id, text)
        return after + INVALID_RETRY
    return next_check(schedule, after, pipeline_id, max_jitter)


async def arm(now: dt.datetime, max_jitter: dt.timedelta, limit: int = 1000) -> int:
    """Give a due time to pipelines with a schedule and none yet."""
    rows = (
        await Pipeline.select(Pipeline.id, Pipeline.drift_schedule)
        .where(Pipeline.drift_schedule.is_not_null() & Pipeline.next_drift_check_at.is_null())
        .limit(limit)
    )
    armed = 0
    for row in rows:
        due = due_after(row["drift_schedule"], now, row["id"], max_jitter)
        done = (
            await Pipeline.update({Pipeline.next_drift_check_at: due}, use_auto_update=False)
            .where(
                (Pipeline.id == row["id"])
                & Pipeline.next_drift_check_at.is_null()
                & (Pipeline.drift_schedule == row["drift_schedule"])
            )
            .returning(Pipeline.id)
        )
        armed += len(done)
    return armed


async def claim(now: dt.datetime, limit: int = BATCH) -> list[dict[str, Any]]:
    """Claim up to ``limit`` due pipelines for this process: their due time becomes ``now + LEASE``
    (distinct per claim: ``now`` carries microseconds). Returns their rows with the lease."""
    leased = now + LEASE
    due = Pipeline.next_drift_check_at <= now
    oldest = Pipeline.select(Pipeline.id).where(due).order_by(Pipeline.next_drift_check_at).limit(limit)
    rows: list[dict[str, Any]] = (
        await Pipeline.update({Pipeline.next_drift_check_at: leased}, use_auto_update=False)
        .where(Pipeline.id.is_in(oldest) & due & Pipeline.drift_schedule.is_not_null())
        .returning(*checks.PIPELINE_COLUMNS)
    )
    for row in rows:
        row["leased"] = leased
    return rows


async def _start(row: dict[str, Any], now: dt.datetime, max_jitter: dt.timedelta, report: TickReport) -> None:
    due = due_after(row["drift_schedule"], now, row["id"], max_jitter)
    try:
        _, started = await checks.create_check(SCHEDULER, row, "schedule", reschedule=(row["leased"], due))
    except Exception:
        report.failed += 1
        log.exception(
            "scheduled drift check of pipeline %s could not start; retried after the lease", row["id"]
        )
        return
    if started:
        report.started += 1
    else:
        report.skipped += 1


async def tick(settings: Settings, now: dt.datetime | None = None) -> TickReport:
    """One round: arm new schedules, then claim and start due checks until none is left or the
    round's time budget is spent."""
    report = TickReport()
    max_jitter = dt.timedelta(seconds=settings.worker.drift_max_jitter)
    start = time.monotonic()
    report.armed = await arm(now or utcnow(), max_jitter)
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(row: dict[str, Any], at: dt.datetime) -> None:
        async with slots:
            await _start(row, at, max_jitter, report)

    while time.monotonic() - start < BUDGET_SECONDS:
        at = now or utcnow()
        rows = await claim(at)
        if not rows:
            break
        report.claimed += len(rows)
        await asyncio.gather(*(one(row, at) for row in rows))
    if report.claimed or report.armed:
        log.info(
            "drift schedule: %d armed, %d claimed, %d started, %d skipped, %d failed",
            report.armed,
            report.claimed,
            report.started,
            report.skipped,
            report.failed,
        )
    return report
