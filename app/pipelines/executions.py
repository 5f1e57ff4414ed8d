"""Executions as the API sees them: start, read, list, approve, discard, cancel.

Every function checks the caller's permission on the execution's pipeline first (another
organization's execution is "not found"); state changes go through ``lifecycle.transition``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from litestar.channels import ChannelsPlugin
from litestar.response import ServerSentEventMessage

from app.accounts.authz import Access, Principal
from app.config import get_settings
from app.db import transaction
from app.designs.tables import DesignVersion
from app.lib.clock import utcnow
from app.lib.errors import AppError, Conflict, FieldError, ValidationFailed, not_found
from app.lib.pagination import Keyset
from app.pipelines import lifecycle, logs
from app.pipelines.model import FINISHED, InvalidTransition
from app.pipelines.pipelines import org_access, pipeline_access
from app.pipelines.schemas import (
    Actor,
    ExecutionCreate,
    ExecutionPage,
    ExecutionRead,
    ExecutionSummary,
    PlanCounts,
    PlanRead,
    ResourceChangeRead,
    StageRead,
)
from app.pipelines.tables import Execution, ExecutionStage, Pipeline


class TransitionRefused(Conflict):
    code = "invalid-transition"
    title = "Not possible in this status"


def _refused(exc: InvalidTransition) -> TransitionRefused:
    return TransitionRefused(str(exc), extra={"execution_status": exc.status})


async def execution_access(
    principal: Principal, execution_id: uuid.UUID, permission: str
) -> tuple[Access, dict[str, Any]]:
    row = await lifecycle.load(execution_id)
    if row is None:
        raise not_found("execution")
    access = await org_access(principal, row["organization"], "execution")
    access.require(permission)
    return access, row


# --- reads ---------------------------------------------------------------------------------------


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def _counts(row: dict[str, Any]) -> PlanCounts | None:
    summary = row.get("plan_summary")
    if not isinstance(summary, dict):
        return None
    return PlanCounts(**{k: int(summary.get(k, 0)) for k in ("add", "change", "destroy", "replace")})


def _summary(row: dict[str, Any]) -> ExecutionSummary:
    return ExecutionSummary(**_summary_fields(row))


def _summary_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "pipeline_id": row["pipeline"],
        "number": row["number"],
        "operation": row["operation"],
        "status": row["status"],
        "speculative": row["speculative"],
        "design_id": row["design_id"],
        "design_version": row["design_version"],
        "created_by": Actor(
            type=row["created_by_type"], id=row["created_by_id"], label=row["created_by_label"]
        ),
        "created_at": row["created_at"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "duration_seconds": _seconds(row["started_at"], row["finished_at"]),
        "counts": _counts(row),
        "error": row["error"],
    }


def _plan(row: dict[str, Any]) -> PlanRead | None:
    counts = _counts(row)
    if counts is None:
        return None
    changes = row.get("plan_changes") or {}
    return PlanRead(
        has_changes=bool(row["has_changes"]),
        counts=counts,
        outputs_changed=list(changes.get("outputs_changed", [])),
        changes=[ResourceChangeRead(**c) for c in changes.get("resources", [])],
    )


async def _queue_position(row: dict[str, Any]) -> int | None:
    if row["status"] != "pending":
        return None
    ahead: int = await Execution.count().where(
        (Execution.state_id == row["state_id"])
        & (Execution.speculative == False)  # noqa: E712
        & Execution.status.not_in([*FINISHED, "pending"])
    )
    ahead += await Execution.count().where(
        (Execution.state_id == row["state_id"])
        & (Execution.status == "pending")
        & (Execution.created_at < row["created_at"])
    )
    return ahead


async def execution_read(row: dict[str, Any]) -> ExecutionRead:
    stages = (
        await ExecutionStage.select()
        .where(ExecutionStage.execution == row["id"])
        .order_by(ExecutionStage.position)
    )
    cool_off = dt.timedelta(seconds=get_settings().worker.cancel_cool_off)
    running = row["status"] in ("planning", "applying")
    needs: Literal["approval", "confirmation"] | None = None
    if row["status"] == "planned":
        needs = "approval" if row["pipeline.require_approval"] else "confirmation"
    return ExecutionRead(
        **_summary_fields(row),
        environment=row["pipeline.environment"],
        state_name=row["pipeline.state_name"],
        planned_at=row["planned_at"],
        confirmed_at=row["confirmed_at"],
        confirmed_by=row["confirmed_by_label"],
        cancel_requested_at=row["cancel_requested_at"],
        force_cancel_available_at=(
            row["cancel_requested_at"] + cool_off if running and row["cancel_requested_at"] else None
        ),
        canceled_by=row["canceled_by_label"],
        needs=needs,
        queue_position=await _queue_position(row),
        plan=_plan(row),
        stages=[
            StageRead(
                name=s["name"],
                status=s["status"],
                exit_code=s["exit_code"],
                started_at=s["started_at"],
                finished_at=s["finished_at"],
                duration_seconds=_seconds(s["started_at"], s["finished_at"]),
            )
            for s in stages
        ],
        log_lines=row["log_lines"],
    )


async def get_execution(principal: Principal, execution_id: uuid.UUID) -> ExecutionRead:
    _, row = await execution_access(principal, execution_id, "pipeline:read")
    return await execution_read(row)


async def list_executions(
    principal: Principal,
    pipeline_id: uuid.UUID,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> ExecutionPage:
    await pipeline_access(principal, pipeline_id, "pipeline:read")
    query = Execution.select(*lifecycle.ROW).where(Execution.pipeline == pipeline_id)
    if status:
        query = query.where(Execution.status == status)
    keyset = Keyset(Execution.number, Execution.id)
    rows = await keyset.apply(query, cursor, limit).output(load_json=True)
    page, next_cursor = keyset.page(rows, limit)
    return ExecutionPage(items=[_summary(r) for r in page], next_cursor=next_cursor)


async def reload(execution_id: uuid.UUID) -> ExecutionRead:
    row = await lifecycle.load(execution_id)
    if row is None:
        raise not_found("execution")
    return await execution_read(row)


# --- writes --------------------------------------------------------------------------------------


async def start_execution(
    principal: Principal, pipeline_id: uuid.UUID, data: ExecutionCreate
) -> ExecutionRead:
    """Create an execution of the pinned design version. A plan is speculative and starts at once;
    an apply or destroy waits for its state (FIFO)."""
    access, pipeline = await pipeline_access(principal, pipeline_id, "pipeline:run")
    design_id = pipeline["design"]
    version = data.version
    if version is None:
        current = (
            await DesignVersion.select(DesignVersion.number)
            .where(DesignVersion.design == design_id)
            .order_by(DesignVersion.number, ascending=False)
            .first()
        )
        if current is None:
            raise ValidationFailed(
                "the design has no saved version to run",
                errors=[FieldError("version", "save a version first")],
            )
        version = int(current["number"])
    elif not await DesignVersion.exists().where(
        (DesignVersion.design == design_id) & (DesignVersion.number == version)
    ):
        raise ValidationFailed(
            f"the design has no version {version}", errors=[FieldError("version", "no such version")]
        )
    speculative = data.operation == "plan"
    now = utcnow()
    execution_id = uuid.uuid4()
    async with transaction():
        number = await lifecycle.next_number(pipeline_id)
        await Execution.insert(
            Execution(
                id=execution_id,
                organization=access.organization_id,
                pipeline=pipeline_id,
                number=number,
                state_id=pipeline["state_id"],
                design_id=design_id,
                design_version=version,
                operation=data.operation,
                speculative=speculative,
                status="pending",
                active=False,
                created_by_type=principal.kind,
                created_by_id=principal.actor_id,
                created_by_label=principal.label[:320],
                created_at=now,
                updated_at=now,
            )
        )
        await Pipeline.update({Pipeline.last_execution_id: execution_id}, use_auto_update=False).where(
            Pipeline.id == pipeline_id
        )
        row = await lifecycle.load(execution_id)
        assert row is not None
        await lifecycle.record_created(principal, row)
        if speculative:  # never waits for the state
            fields = lifecycle.model_of(row).enqueue()
            await lifecycle.transition(principal, row, fields)
            await lifecycle.dispatch(execution_id)
    if not speculative:
        await lifecycle.promote(pipeline["state_id"])
    return await reload(execution_id)


async def _decide(principal: Principal, execution_id: uuid.UUID, action: str) -> ExecutionRead:
    access, row = await execution_access(principal, execution_id, "pipeline:read")
    access.require("pipeline:approve" if row["pipeline.require_approval"] else "pipeline:run")
    model = lifecycle.model_of(row)
    now = utcnow()
    try:
        fields = model.confirm(now) if action == "approve" else model.discard(now)
    except InvalidTransition as exc:
        raise _refused(exc) from None
    if action == "approve":
        fields |= {"confirmed_by_id": principal.actor_id, "confirmed_by_label": principal.label[:320]}
    async with transaction():
        if not await lifecycle.transition(principal, row, fields):
            raise TransitionRefused(
                "the execution changed meanwhile; reload it", extra={"execution_status": row["status"]}
            )
        if action == "approve":
            await lifecycle.dispatch(execution_id)
    return await reload(execution_id)


async def approve(principal: Principal, execution_id: uuid.UUID) -> ExecutionRead:
    """Apply exactly the saved plan (``pipeline:approve`` when the pipeline requires approval,
    else ``pipeline:run``). The approver and time are recorded."""
    return await _decide(principal, execution_id, "approve")


async def discard(principal: Principal, execution_id: uuid.UUID) -> ExecutionRead:
    return await _decide(principal, execution_id, "discard")


async def cancel(principal: Principal, execution_id: uuid.UUID) -> ExecutionRead:
    """Cancel. Waiting executions end at once; a running one gets one SIGINT (terraform stops
    gracefully). A second cancel after the cool-off kills it (``pipeline:approve``)."""
    access, row = await execution_access(principal, execution_id, "pipeline:run")
    model = lifecycle.model_of(row)
    now = utcnow()
    second = model.running and model.cancel_requested_at is not None
    try:
        if second:
            access.require("pipeline:approve")
            cool_off = dt.timedelta(seconds=get_settings().worker.cancel_cool_off)
            fields = model.force_cancel(now, principal.label[:320], cool_off)
        else:
            fields = model.cancel(now, principal.label[:320])
    except InvalidTransition as exc:
        raise _refused(exc) from None
    if not await lifecycle.transition(principal, row, fields):
        raise TransitionRefused(
            "the execution changed meanwhile; reload it", extra={"execution_status": row["status"]}
        )
    if second:
        await lifecycle.force_cancel_if_orphaned(execution_id)
    return await reload(execution_id)


async def log_text(principal: Principal, execution_id: uuid.UUID, start: int = 0) -> str:
    """The stored log from line ``start`` (masked when it was written)."""
    await execution_access(principal, execution_id, "pipeline:read")
    lines = await logs.stored_lines(execution_id, start)
    return "\n".join(lines) + ("\n" if lines else "")


async def follow_log(
    principal: Principal, channels: ChannelsPlugin, execution_id: uuid.UUID, start: int = 0
) -> AsyncIterator[ServerSentEventMessage]:
    """Live log as server-sent events from line ``start``; access is checked now (404/403 before
    the stream starts) and again at every heartbeat."""
    await execution_access(principal, execution_id, "pipeline:read")
    later = dataclasses.replace(principal, generations=None)

    async def still_allowed() -> bool:
        try:
            await execution_access(later, execution_id, "pipeline:read")
        except AppError:
            return False
        return True

    return logs.follow(channels, execution_id, start, still_allowed)
