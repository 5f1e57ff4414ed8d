"""The sweeper: finds what a crashed worker or a lost message left behind, never by luck.

Run periodically by every worker (and by an embedded server). Each step is a conditional write, so
several sweepers at once do each thing once:

- a running execution whose lease expired: its worker is gone. A plan runs again, once (it changes
  nothing); anything else ends as errored (or force-canceled, if that was asked), its lock is
  released and, after an apply, its state is marked as possibly diverged. An apply is never run
  again on Board3's own initiative.
- an execution waiting for a worker (``queued``/``confirmed``) that nobody took: handed over again.
- a state with pending executions and none holding it: the oldest is promoted.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from app.db import transaction
from app.lib.clock import utcnow
from app.pipelines import lifecycle
from app.pipelines.model import InvalidTransition
from app.pipelines.tables import Execution

log = logging.getLogger("board3.pipelines.sweeper")


@dataclass(slots=True)
class SweepReport:
    lost: int = 0
    retried: int = 0
    redispatched: int = 0
    promoted: int = 0


async def sweep(handover_grace: dt.timedelta) -> SweepReport:
    report = SweepReport()
    now = utcnow()
    expired = (
        await Execution.select(*lifecycle.ROW)
        .where(
            Execution.status.is_in(["planning", "applying"])
            # no lease at all: its worker was stopped and gave it up without finishing it
            & ((Execution.lease_expires_at < now) | Execution.lease_expires_at.is_null())
        )
        .limit(500)
    )
    for row in expired:
        await _lost(row, report)
    stale = (
        await Execution.select(Execution.id)
        .where(
            Execution.status.is_in(["queued", "confirmed"])
            & (Execution.worker_id.is_null() | (Execution.lease_expires_at < now))
            & (Execution.updated_at < now - handover_grace)
        )
        .limit(500)
    )
    for row in stale:
        await lifecycle.dispatch(row["id"])
        report.redispatched += 1
    waiting = await Execution.raw(
        "SELECT DISTINCT state_id FROM pipeline_executions p WHERE status = 'pending' AND NOT EXISTS "
        "(SELECT 1 FROM pipeline_executions a WHERE a.state_id = p.state_id AND a.active) LIMIT 500"
    )
    for row in waiting:
        if await lifecycle.promote(row["state_id"]) is not None:
            report.promoted += 1
    if report.lost or report.retried or report.redispatched or report.promoted:
        log.info(
            "sweep: %d lost, %d plans retried, %d handed over again, %d promoted",
            report.lost,
            report.retried,
            report.redispatched,
            report.promoted,
        )
    return report


async def _lost(row: dict, report: SweepReport) -> None:
    model = lifecycle.model_of(row)
    who = row["worker_id"] or "unknown"
    if (
        row["status"] == "planning"
        and row["force_cancel_requested_at"] is None
        and row["cancel_requested_at"] is None
    ):
        try:
            fields = model.retry_plan()
        except InvalidTransition:
            pass
        else:
            lost = {"reason": f"worker {who} lost"}
            async with transaction():  # the lock is free before the plan is handed over again
                if await lifecycle.transition(lifecycle.SYSTEM, row, fields, details=lost):
                    await lifecycle.release_lock_of_lost_plan(row)
                    await lifecycle.dispatch(row["id"])
                    report.retried += 1
            return
    forced = row["force_cancel_requested_at"] is not None
    reason = f"the worker running it ({who}) stopped answering; its lease expired"
    if await lifecycle.finish_lost(row, reason, forced=forced):
        report.lost += 1
