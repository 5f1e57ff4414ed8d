"""Drift checks as the API and the scheduler start them, and how they end.

A check that runs is an execution with operation ``drift`` (``app.pipelines``): it waits for its
state like an apply, is leased by a worker, swept, canceled and logged like any execution. Its end
is recorded by ``execution_finished``, which the execution machinery calls inside the transaction
that moves the execution to a finished status: the check's status, its comparison with the
previous check, the pipeline's and the design's drift at a glance, and the domain events
(``drift.detected``, ``drift.resolved``, ``drift.errored``) commit together with it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from app.accounts.authz import Principal
from app.db import is_unique_violation, transaction
from app.designs import environments
from app.designs.schemas import DriftGlance
from app.drift import compare
from app.drift.cadence import decide
from app.drift.reads import decode, decode_resources, reload
from app.drift.schemas import IN_FLIGHT, RESULTS, DriftCheckRead, ResourceDrift
from app.drift.tables import DriftCheck
from app.events import audit
from app.events.bus import emit
from app.lib.clock import utcnow
from app.lib.errors import not_found
from app.pipelines import lifecycle
from app.pipelines.pipelines import pipeline_access
from app.pipelines.tables import Execution, Pipeline

OPERATION = "drift"

PIPELINE_COLUMNS = (
    Pipeline.id,
    Pipeline.organization,
    Pipeline.design,
    Pipeline.environment,
    Pipeline.state_id,
    Pipeline.last_applied_version,
    Pipeline.last_applied_at,
    Pipeline.drift_schedule,
    Pipeline.drift_summary,
)


# --- the state's holder --------------------------------------------------------------------------


async def holder(state_id: uuid.UUID) -> str | None:
    """The execution holding the state, or the first waiting for it (None: the state is free)."""
    row = (
        await Execution.select(Execution.number, Execution.operation, Execution.status)
        .where(
            (Execution.state_id == state_id) & ((Execution.active == True) | (Execution.status == "pending"))  # noqa: E712
        )
        .order_by(Execution.active, ascending=False)
        .first()
    )
    if row is None:
        return None
    return f"execution #{row['number']} ({row['operation']}, {row['status']})"


# --- drift at a glance ---------------------------------------------------------------------------


def glance(
    check_id: uuid.UUID,
    status: str,
    at: dt.datetime,
    reason: str | None,
    drifted: int,
    previous: DriftGlance | None,
) -> DriftGlance:
    """The new glance after a check ended: its status, and the drifted count of the latest check
    that saw the infrastructure (this one, or the one the previous glance remembers)."""
    result = status in RESULTS
    return DriftGlance(
        check_id=check_id,
        status=status,  # type: ignore[arg-type]
        checked_at=at,
        reason=reason,
        drifted=drifted if result else (previous.drifted if previous else None),
        result_check_id=check_id if result else (previous.result_check_id if previous else None),
    )


async def _update_glance(pipeline: Mapping[str, Any], new: DriftGlance) -> None:
    """The design first: its row lock comes before any pipeline row is written twice in the
    transaction (a second write re-checks the pipeline's foreign key, taking a share lock on the
    design; two transactions holding that and both asking for the design's row lock deadlock)."""
    await environments.set_drift(pipeline["design"], pipeline["environment"], pipeline["id"], new)
    await Pipeline.update({Pipeline.drift_summary: msgspec.to_builtins(new)}, use_auto_update=False).where(
        Pipeline.id == pipeline["id"]
    )


async def _current_glance(pipeline_id: uuid.UUID) -> tuple[dict[str, Any] | None, DriftGlance | None]:
    row = await Pipeline.select(*PIPELINE_COLUMNS).where(Pipeline.id == pipeline_id).first()
    if row is None:
        return None, None
    return row, decode(row["drift_summary"], DriftGlance)


# --- starting ------------------------------------------------------------------------------------


def _event_data(check: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "check_id": str(check["id"]),
        "pipeline_id": str(check["pipeline"]),
        "design_id": str(check["design_id"]),
        "environment": check["environment"],
        "design_version": check["design_version"],
        "trigger": check["trigger"],
        **extra,
    }


async def _skip(
    actor: Principal,
    pipeline: Mapping[str, Any],
    trigger: str,
    reason: str,
    now: dt.datetime,
    reschedule: tuple[dt.datetime, dt.datetime] | None,
) -> uuid.UUID:
    check_id = uuid.uuid4()
    async with transaction():
        await _reschedule(pipeline["id"], reschedule)
        row, previous = await _current_glance(pipeline["id"])
        if row is not None:
            await _update_glance(row, glance(check_id, "skipped", now, reason, 0, previous))
        await DriftCheck.insert(
            _row(check_id, actor, pipeline, trigger, now, status="skipped", reason=reason, finished_at=now)
        )
    return check_id


def _row(
    check_id: uuid.UUID,
    actor: Principal,
    pipeline: Mapping[str, Any],
    trigger: str,
    now: dt.datetime,
    **fields: Any,
) -> DriftCheck:
    """A new check of ``pipeline``'s version last applied, by ``actor``."""
    return DriftCheck(
        id=check_id,
        organization=pipeline["organization"],
        pipeline=pipeline["id"],
        design_id=pipeline["design"],
        environment=pipeline["environment"],
        state_id=pipeline["state_id"],
        design_version=pipeline["last_applied_version"],
        trigger=trigger,
        created_by_type=actor.kind,
        created_by_id=actor.actor_id,
        created_by_label=actor.label[:320],
        created_at=now,
        **fields,
    )


class AlreadyStarted(Exception):
    """The claimed check was started by someone else (its job ran twice), or its schedule changed
    since the claim: nothing is recorded."""


async def _reschedule(pipeline_id: uuid.UUID, reschedule: tuple[dt.datetime, dt.datetime] | None) -> None:
    """A claimed pipeline's due time moves from the claim's lease to its next due time, first in the
    transaction that records the check: whoever moves it records the check, anyone else (a second
    delivery of the job) finds the lease gone and records nothing."""
    if reschedule is None:
        return
    leased, due = reschedule
    moved = (
        await Pipeline.update({Pipeline.next_drift_check_at: due}, use_auto_update=False)
        .where((Pipeline.id == pipeline_id) & (Pipeline.next_drift_check_at == leased))
        .returning(Pipeline.id)
    )
    if not moved:
        raise AlreadyStarted(str(pipeline_id))


async def create_check(
    actor: Principal,
    pipeline: Mapping[str, Any],
    trigger: Literal["manual", "schedule"],
    *,
    reschedule: tuple[dt.datetime, dt.datetime] | None = None,
) -> tuple[uuid.UUID, bool]:
    """Record a check of ``pipeline`` (a row with ``PIPELINE_COLUMNS``) and start its execution, or
    record it as skipped. Returns the check's id and whether it runs. With ``reschedule`` (a claimed
    scheduled check: its lease and next due time), raises ``AlreadyStarted`` if the lease is gone.

    A scheduled check takes the state at once or is skipped (the database's one-holder index
    decides a race with an execution starting meanwhile); a manual one waits in the state's queue,
    like an apply."""
    now = utcnow()
    busy = await holder(pipeline["state_id"])
    decision = decide(
        trigger=trigger,
        last_applied_version=pipeline["last_applied_version"],
        ever_applied=pipeline["last_applied_at"] is not None,
        busy_with=busy,
    )
    if decision.action == "skip":
        assert decision.reason is not None
        return await _skip(actor, pipeline, trigger, decision.reason, now, reschedule), False
    check_id, execution_id = uuid.uuid4(), uuid.uuid4()
    try:
        async with transaction():
            await _reschedule(pipeline["id"], reschedule)
            number = await lifecycle.next_number(pipeline["id"])
            await Execution.insert(
                Execution(
                    id=execution_id,
                    organization=pipeline["organization"],
                    pipeline=pipeline["id"],
                    number=number,
                    state_id=pipeline["state_id"],
                    design_id=pipeline["design"],
                    design_version=pipeline["last_applied_version"],
                    operation=OPERATION,
                    speculative=False,
                    status="pending",
                    active=False,
                    created_by_type=actor.kind,
                    created_by_id=actor.actor_id,
                    created_by_label=actor.label[:320],
                    created_at=now,
                    updated_at=now,
                )
            )
            await DriftCheck.insert(
                _row(check_id, actor, pipeline, trigger, now, status="pending", execution_id=execution_id)
            )
            row = await lifecycle.load(execution_id)
            assert row is not None
            await lifecycle.record_created(actor, row)
            if trigger == "schedule":  # take the state now (or fail on the one-holder index)
                await lifecycle.transition(actor, row, lifecycle.model_of(row).enqueue())
                await lifecycle.dispatch(execution_id)
    except Exception as exc:
        if trigger == "schedule" and is_unique_violation(exc):
            reason = "another execution took the state as the check started; it waits for the next schedule"
            return await _skip(actor, pipeline, trigger, reason, now, reschedule), False
        raise
    if trigger == "manual":
        await lifecycle.promote(pipeline["state_id"])
    return check_id, True


async def start_check(principal: Principal, pipeline_id: uuid.UUID) -> DriftCheckRead:
    """Check the pipeline's infrastructure now (``pipeline:run``): 202 with the check, which waits
    for its state like an apply; skipped (with why) when nothing has been applied."""
    access, _ = await pipeline_access(principal, pipeline_id, "pipeline:run")
    pipeline = await Pipeline.select(*PIPELINE_COLUMNS).where(Pipeline.id == pipeline_id).first()
    if pipeline is None:
        raise not_found("pipeline")
    check_id, started = await create_check(principal, pipeline, "manual")
    await audit.record(
        principal,
        "drift.check.start",
        organization_id=access.organization_id,
        object_type="drift_check",
        object_id=check_id,
        details={"pipeline_id": str(pipeline_id), "started": started},
    )
    return await reload(check_id)


# --- finishing -----------------------------------------------------------------------------------


async def mark_running(execution_id: uuid.UUID, now: dt.datetime) -> None:
    await DriftCheck.update(
        {DriftCheck.status: "running", DriftCheck.started_at: now}, use_auto_update=False
    ).where((DriftCheck.execution_id == execution_id) & DriftCheck.status.is_in(list(IN_FLIGHT)))


async def store_findings(execution_id: uuid.UUID, resources: list[ResourceDrift]) -> None:
    """What the run found, kept on the check until its execution ends (which decides its status)."""
    counts = compare.counts(resources)
    await DriftCheck.update(
        {
            DriftCheck.resources: msgspec.to_builtins(resources),
            DriftCheck.drifted: counts.drifted,
            DriftCheck.changed: counts.changed,
            DriftCheck.deleted: counts.deleted,
        },
        use_auto_update=False,
    ).where((DriftCheck.execution_id == execution_id) & DriftCheck.status.is_in(list(IN_FLIGHT)))


async def _previous_result(check: Mapping[str, Any]) -> Mapping[str, Any] | None:
    row: Mapping[str, Any] | None = (
        await DriftCheck.select(DriftCheck.id, DriftCheck.resources)
        .where(
            (DriftCheck.pipeline == check["pipeline"])
            & DriftCheck.status.is_in(list(RESULTS))
            & (DriftCheck.id != check["id"])
        )
        .order_by(DriftCheck.finished_at, ascending=False)
        .first()
        .output(load_json=True)
    )
    return row


async def execution_finished(execution: Mapping[str, Any], fields: Mapping[str, Any]) -> None:
    """The check's end, recorded in the transaction that ends its execution."""
    check = (
        await DriftCheck.select()
        .where(DriftCheck.execution_id == execution["id"])
        .first()
        .output(load_json=True)
    )
    if check is None or check["status"] not in IN_FLIGHT:
        return
    status = str(fields["status"])
    now = fields.get("finished_at") or utcnow()
    values: dict[Any, Any] = {DriftCheck.finished_at: now}
    events: list[tuple[str, dict[str, Any]]] = []
    resources = decode_resources(check["resources"])
    reason = None
    if status == "planned_and_finished":
        previous = await _previous_result(check)
        diff = compare.difference(decode_resources(previous["resources"]) if previous else None, resources)
        final = "drifted" if resources else "no_drift"
        values |= {
            DriftCheck.status: final,
            DriftCheck.difference: msgspec.to_builtins(diff),
            DriftCheck.previous_check_id: previous["id"] if previous else None,
        }
        summary = {
            "drifted": len(resources),
            "new": [f.address for f in diff.new],
            "still_drifted": [f.address for f in diff.still_drifted],
            "resolved": [f.address for f in diff.resolved],
        }
        if diff.new:
            events.append(("drift.detected", summary))
        if diff.resolved:
            events.append(("drift.resolved", summary))
    elif status == "errored":
        final = "errored"
        reason = str(fields.get("error") or execution.get("error") or "the check's run failed")
        values |= {DriftCheck.status: final, DriftCheck.reason: reason}
        events.append(("drift.errored", {"error": reason}))
    else:
        final = "canceled"
        reason = f"its execution ended {status}"
        values |= {DriftCheck.status: final, DriftCheck.reason: reason}
    await DriftCheck.update(values, use_auto_update=False).where(
        (DriftCheck.id == check["id"]) & DriftCheck.status.is_in(list(IN_FLIGHT))
    )
    row, previous_glance = await _current_glance(check["pipeline"])
    if row is not None:
        await _update_glance(row, glance(check["id"], final, now, reason, len(resources), previous_glance))
    for action, data in events:
        payload = _event_data(check, status=final, execution_id=str(execution["id"]), **data)
        await audit.record(
            lifecycle.SYSTEM,
            action,
            organization_id=check["organization"],
            object_type="drift_check",
            object_id=check["id"],
            details=payload,
        )
        await emit(
            lifecycle.SYSTEM,
            action,
            organization_id=check["organization"],
            object_type="drift_check",
            object_id=check["id"],
            data=payload,
        )
