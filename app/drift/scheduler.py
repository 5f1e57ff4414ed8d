"""The drift scheduler: a tick run by every worker process and every embedded server (``Upkeep``).

Schedules live in the database (``pipelines.drift_schedule`` and ``next_drift_check_at``), so any
number of processes can tick at once:

1. pipelines with a schedule and no due time yet (new, or whose schedule changed) get one;
2. due pipelines are claimed in batches by one conditional UPDATE that moves their due time to a
   lease, and only if it is still due, so a row claimed by one process is not claimed by another:
   on PostgreSQL the rows another claimer holds are skipped (``SKIP LOCKED``) and the condition is
   re-checked on the rows taken; on SQLite there is one writer at a time;
3. the claims are handed to the job queue in chunks (job ``drift-check``, key ``<lease>|<pipeline
   id>,<pipeline id>,...``); the job records each check (``start_claimed``), moving its due time
   from the lease to the next due time in the same transaction and only if the lease is still
   there, so a job delivered twice records each check once. A claim whose job is lost is due again
   when its lease expires.

The tick itself does no more than the claims and the hand-over, so a burst of due pipelines (10k on
``0 * * * *`` after an outage) is dispatched in seconds; the checks start as workers take the jobs.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
import uuid
from dataclasses import dataclass

from app.config import Settings
from app.db import skip_locked
from app.drift import checks
from app.drift.cadence import next_check
from app.lib import runtime
from app.lib.clock import utcnow
from app.lib.principal import Principal
from app.pipelines.schedule import Schedule, ScheduleError, parse_schedule
from app.pipelines.tables import Pipeline

log = logging.getLogger("board3.drift.scheduler")

JOB = "drift-check"
SCHEDULER = Principal(kind="system", id=uuid.UUID(int=0), label="board3:drift-schedule")
LEASE = dt.timedelta(minutes=10)  # a claim whose check was not recorded by then is due again
BATCH = 500
CHUNK = 25  # claimed checks per job: few jobs to enqueue, and a burst spreads over the workers
BUDGET_SECONDS = 8.0  # one tick stops claiming after this long (the rest waits for the next tick)
INVALID_RETRY = dt.timedelta(hours=1)


@dataclass(slots=True)
class TickReport:
    armed: int = 0
    claimed: int = 0
    started: int = 0  # checks recorded by this tick itself (no job queue bound: tests, tools)
    skipped: int = 0


@functools.lru_cache(maxsize=1024)
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


async def claim(now: dt.datetime, limit: int = BATCH) -> tuple[dt.datetime, list[uuid.UUID]]:
    """Claim up to ``limit`` due pipelines: their due time becomes the lease ``now + LEASE``, which
    the claim's job must find to record the check. Returns the lease and the pipelines' ids."""
    leased = now + LEASE
    due = Pipeline.next_drift_check_at <= now
    oldest = skip_locked(
        Pipeline.select(Pipeline.id)
        .where(due)
        .order_by(Pipeline.next_drift_check_at, Pipeline.id)
        .limit(limit)
    )
    rows = (
        await Pipeline.update({Pipeline.next_drift_check_at: leased}, use_auto_update=False)
        .where(Pipeline.id.is_in(oldest) & due & Pipeline.drift_schedule.is_not_null())
        .returning(Pipeline.id)
    )
    return leased, [row["id"] for row in rows]


def job_key(leased: dt.datetime, pipeline_ids: list[uuid.UUID]) -> str:
    return f"{leased.isoformat()}|{','.join(str(p) for p in pipeline_ids)}"


async def start_claimed(key: str, settings: Settings) -> TickReport:
    """The ``drift-check`` job: record each claimed check of the chunk (it runs, or is skipped with
    why) unless it already was."""
    report = TickReport()
    stamp, _, ids = key.partition("|")
    try:
        leased = dt.datetime.fromisoformat(stamp)
        pipeline_ids = [uuid.UUID(p) for p in ids.split(",")]
    except ValueError:
        log.error("drift-check job with a malformed key %r dropped", key[:200])
        return report
    for pid in pipeline_ids:
        try:
            started = await _start_one(pid, leased, settings)
        except Exception:  # the others go on; this one is due again when its lease expires
            log.exception("drift check of pipeline %s could not be recorded", pid)
            continue
        if started is not None:
            report.started += started
            report.skipped += not started
    return report


async def _start_one(pid: uuid.UUID, leased: dt.datetime, settings: Settings) -> bool | None:
    row = (
        await Pipeline.select(*checks.PIPELINE_COLUMNS)
        .where((Pipeline.id == pid) & (Pipeline.next_drift_check_at == leased))
        .first()
    )
    if row is None or row["drift_schedule"] is None:
        return None  # recorded already, or the schedule changed since the claim
    max_jitter = dt.timedelta(seconds=settings.worker.drift_max_jitter)
    due = due_after(row["drift_schedule"], utcnow(), pid, max_jitter)
    try:
        _, started = await checks.create_check(SCHEDULER, row, "schedule", reschedule=(leased, due))
    except checks.AlreadyStarted:
        return None
    return started


async def tick(settings: Settings, now: dt.datetime | None = None) -> TickReport:
    """One round: arm new schedules, then claim due checks and hand each to the job queue, until
    none is due or the round's time budget is spent. Without a job queue (a tool, a test) the
    claimed checks are recorded here and now."""
    report = TickReport()
    max_jitter = dt.timedelta(seconds=settings.worker.drift_max_jitter)
    start = time.monotonic()
    report.armed = await arm(now or utcnow(), max_jitter)
    current = runtime.current()
    queue = current.jobs if current is not None else None
    while time.monotonic() - start < BUDGET_SECONDS:
        leased, claimed = await claim(now or utcnow())
        if not claimed:
            break
        report.claimed += len(claimed)
        for i in range(0, len(claimed), CHUNK):
            key = job_key(leased, claimed[i : i + CHUNK])
            if queue is not None:
                try:
                    await queue.enqueue(JOB, key)
                except Exception as exc:  # their lease expires and they are claimed again
                    log.warning("could not hand drift checks to a worker (%s): %s", key[:80], exc)
                continue
            done = await start_claimed(key, settings)
            report.started += done.started
            report.skipped += done.skipped
    if report.claimed or report.armed:
        log.info(
            "drift schedule: %d armed, %d claimed (%d started here, %d skipped)",
            report.armed,
            report.claimed,
            report.started,
            report.skipped,
        )
    return report
