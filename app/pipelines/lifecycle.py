"""Moving executions through their life: one conditional UPDATE per transition, audited and
emitted as a domain event in the same transaction; the state's queue; handing work to workers.

``transition`` is the only writer of an execution's status. It updates the row only if it is
still in the status the caller read (and, for a worker, still leased to that worker), so a cancel
racing a worker, or two workers, can never both move one execution. When an execution lets go of
its state, the next pending execution of that state is promoted (FIFO); the partial unique index
on ``active`` makes the database refuse a second holder whatever the code does.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from app.db import after_commit, is_unique_violation, transaction
from app.events import audit
from app.events.bus import emit
from app.lib import runtime
from app.lib.clock import utcnow
from app.lib.principal import Principal
from app.pipelines.logs import LogWriter, publish_end, stored_end
from app.pipelines.masking import Masker
from app.pipelines.model import FINISHED, ExecutionModel
from app.pipelines.operations import internal
from app.pipelines.tables import Execution, Pipeline, SavedPlan
from app.states import ownership

log = logging.getLogger("board3.pipelines")

JOB = "execution"
SYSTEM = Principal(kind="system", id=uuid.UUID(int=0), label="board3")

ROW = (
    *Execution.all_columns(),
    Execution.pipeline._.auto_apply,
    Execution.pipeline._.require_approval,
    Execution.pipeline._.environment,
    Execution.pipeline._.state_name,
    Execution.organization._.slug,
)

# Domain event (and audit action) for each status an execution reaches.
EVENTS = {
    "queued": "execution.queued",
    "planning": "execution.planning",
    "planned": "execution.needs_approval",
    "confirmed": "execution.confirmed",
    "applying": "execution.applying",
    "applied": "execution.applied",
    "planned_and_finished": "execution.planned",
    "discarded": "execution.discarded",
    "errored": "execution.errored",
    "canceled": "execution.canceled",
    "force_canceled": "execution.force_canceled",
}


async def load(execution_id: uuid.UUID) -> dict[str, Any] | None:
    row: dict[str, Any] | None = (
        await Execution.select(*ROW).where(Execution.id == execution_id).first().output(load_json=True)
    )
    return row


def model_of(row: Mapping[str, Any]) -> ExecutionModel:
    return ExecutionModel.from_row(dict(row), auto_apply=bool(row["pipeline.auto_apply"]))


def event_data(row: Mapping[str, Any], status: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "execution_id": str(row["id"]),
        "pipeline_id": str(row["pipeline"]),
        "number": row["number"],
        "operation": row["operation"],
        "environment": row["pipeline.environment"],
        "design_id": str(row["design_id"]),
        "design_version": row["design_version"],
        "status": status,
        **(extra or {}),
    }


async def transition(
    actor: Principal,
    row: Mapping[str, Any],
    fields: Mapping[str, Any],
    *,
    worker_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> bool:
    """Write ``fields`` (from a model method) if the execution is still in the status of ``row``
    (and leased to ``worker_id`` when given). Audits and emits the new status in the same
    transaction; after the commit, tells log followers a finished run has ended and gives a freed
    state to the next execution. Returns whether the row moved."""
    condition = (Execution.id == row["id"]) & (Execution.status == row["status"])
    if worker_id is not None:
        condition &= Execution.worker_id == worker_id
    values = {getattr(Execution, name): value for name, value in fields.items()}
    values[Execution.updated_at] = utcnow()
    status = fields.get("status")
    async with transaction():
        moved = await Execution.update(values, use_auto_update=False).where(condition).returning(Execution.id)
        if not moved:
            return False
        if status is not None:
            await _record(actor, row, EVENTS[status], status, details)
        elif "force_cancel_requested_at" in fields:
            await _record(actor, row, "execution.force_cancel_requested", row["status"], details)
        elif "cancel_requested_at" in fields:
            await _record(actor, row, "execution.cancel_requested", row["status"], details)
        if status in FINISHED:
            # The saved plan (it can hold sensitive values) is of no use once the run has ended.
            await SavedPlan.delete().where(SavedPlan.execution == row["id"])
            owner = internal(row["operation"])
            if owner is not None:  # a drift check records its end in this same transaction
                await owner.finished(row, fields)
            execution_id, final = row["id"], status

            async def ended() -> None:
                publish_end(execution_id, final)

            await after_commit(ended)
        if row["active"] and fields.get("active") is False and not row["speculative"]:
            state_id = row["state_id"]

            async def freed() -> None:
                await promote(state_id)

            await after_commit(freed)
    return True


async def _record(
    actor: Principal, row: Mapping[str, Any], action: str, status: str, details: Mapping[str, Any] | None
) -> None:
    data = event_data(row, status, details)
    await audit.record(
        actor,
        action,
        organization_id=row["organization"],
        object_type="execution",
        object_id=row["id"],
        details=data,
    )
    await emit(
        actor,
        action,
        organization_id=row["organization"],
        object_type="execution",
        object_id=row["id"],
        data=data,
    )


async def promote(state_id: uuid.UUID, actor: Principal = SYSTEM) -> uuid.UUID | None:
    """Give ``state_id`` to its oldest pending execution if no execution holds it; hand it to a
    worker. Safe to call from anywhere at any time: the database picks at most one holder."""
    for _ in range(5):
        if await Execution.exists().where((Execution.state_id == state_id) & (Execution.active == True)):  # noqa: E712
            return None
        nxt = (
            await Execution.select(*ROW)
            .where((Execution.state_id == state_id) & (Execution.status == "pending"))
            .order_by(Execution.created_at)
            .order_by(Execution.number)
            .first()
        )
        if nxt is None:
            return None
        try:
            moved = await transition(actor, nxt, model_of(nxt).enqueue())
        except Exception as exc:
            if is_unique_violation(exc):  # another process gave the state to someone just now
                return None
            raise
        if moved:
            await dispatch(nxt["id"])
            return uuid.UUID(str(nxt["id"]))
    return None


async def dispatch(execution_id: uuid.UUID) -> None:
    """Hand the execution to a worker once the current transaction has committed. A hand-over that
    fails (Redis down) is logged: the sweeper finds queued executions nobody took."""

    async def enqueue() -> None:
        current = runtime.current()
        if current is None or current.jobs is None:
            log.warning("no job queue is bound; execution %s waits for the sweeper", execution_id)
            return
        try:
            await current.jobs.enqueue(JOB, str(execution_id))
        except Exception as exc:
            log.warning("could not hand execution %s to a worker (%s); the sweeper will", execution_id, exc)

    await after_commit(enqueue)


async def next_number(pipeline_id: uuid.UUID) -> int:
    """The pipeline's next execution number (inside the caller's transaction)."""
    taken = (
        await Pipeline.update({Pipeline.next_number: Pipeline.next_number + 1}, use_auto_update=False)
        .where(Pipeline.id == pipeline_id)
        .returning(Pipeline.next_number)
    )
    return int(taken[0]["next_number"]) - 1


async def record_created(actor: Principal, row: Mapping[str, Any]) -> None:
    """Audit and emit the creation of an execution (inside the creating transaction)."""
    await _record(actor, row, "execution.created", "pending", None)


async def finish_lost(row: Mapping[str, Any], reason: str, *, forced: bool = False) -> bool:
    """End an execution whose worker is gone (its lease expired, or a force-cancel found nobody
    running it): errored, or force-canceled when that was asked. Board3 then does what terraform
    could not: releases the lock the run's token held and, if it was applying, marks the state as
    possibly diverged (a killed apply may have created resources it did not record)."""
    model = model_of(row)
    now = utcnow()
    if model.finished:
        return False
    fields = model.stopped(now, forced=True) if forced and model.running else model.error(reason, now)
    fields |= {"worker_id": None, "lease_expires_at": None}
    # One transaction: the end, the log lines saying why, the freed lock and the divergence mark are
    # seen together, and the next execution is promoted (after commit) only once the lock is free.
    async with transaction():
        if not await transition(SYSTEM, row, fields, details={"reason": reason}):
            return False
        await _after_loss(row, reason)
    return True


async def _after_loss(row: Mapping[str, Any], reason: str) -> None:
    writer = LogWriter(row["id"], row["organization"], await stored_end(row["id"]), Masker(()))
    writer.write(f"Error: {reason}")
    if await ownership.release_run_lock(SYSTEM, row["state_id"], row["id"], reason):
        writer.write("Board3 released the state lock the run held.")
    if row["status"] == "applying":
        await ownership.mark_diverged(row["state_id"], f"execution #{row['number']}: {reason}")
        writer.write("The state may not record everything the apply did: it is marked as diverged.")
    await writer.close()


async def force_cancel_if_orphaned(execution_id: uuid.UUID) -> None:
    """A force-cancel of a run no live worker holds: nobody would act on it, so end it now."""
    row = await load(execution_id)
    if row is None or row["status"] not in ("planning", "applying"):
        return
    expires = row["lease_expires_at"]
    if expires is None or expires < utcnow():
        await finish_lost(row, "force-canceled: no worker was running it any more", forced=True)


async def release_lock_of_lost_plan(row: Mapping[str, Any]) -> None:
    """A lost plan runs again: first free the lock its terraform may have left (plans lock too)."""
    await ownership.release_run_lock(
        SYSTEM, row["state_id"], row["id"], "its worker was lost; planning again"
    )
