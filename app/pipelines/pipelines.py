"""Pipelines: create one for a design and an environment, read, configure, delete.

Authorization first in every public function: the design must be visible to the caller and the
caller must hold the ``pipeline:*`` permission in the design's organization. A pipeline of another
organization is "not found".
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec

from app.accounts.authz import Access, Principal, access_for_org
from app.config import get_settings
from app.db import on_unique_violation, transaction
from app.designs import environments
from app.designs.access import design_access
from app.designs.schemas import DriftGlance
from app.events import audit
from app.events.bus import emit
from app.lib.clock import utcnow
from app.lib.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed, not_found
from app.pipelines.model import FINISHED
from app.pipelines.schedule import ScheduleError, parse_schedule
from app.pipelines.schemas import (
    PipelineCreate,
    PipelineList,
    PipelineRead,
    PipelineUpdate,
    StateLink,
)
from app.pipelines.tables import Execution, Pipeline
from app.states import ownership
from app.states.tables import State

COLUMNS = (
    Pipeline.id,
    Pipeline.organization,
    Pipeline.organization._.slug,
    Pipeline.design,
    Pipeline.environment,
    Pipeline.state_id,
    Pipeline.state_name,
    Pipeline.auto_apply,
    Pipeline.require_approval,
    Pipeline.drift_schedule,
    Pipeline.next_drift_check_at,
    Pipeline.drift_summary,
    Pipeline.last_applied_version,
    Pipeline.last_applied_at,
    Pipeline.last_execution_id,
    Pipeline.created_by,
    Pipeline.created_at,
    Pipeline.updated_at,
)


async def pipeline_access(
    principal: Principal, pipeline_id: uuid.UUID, permission: str
) -> tuple[Access, dict[str, Any]]:
    """The pipeline's row and the caller's access to its organization, holding ``permission``
    (404 when the pipeline does not exist or is another organization's, 403 when not allowed)."""
    row = await Pipeline.select(*COLUMNS).where(Pipeline.id == pipeline_id).first()
    if row is None:
        raise not_found("pipeline")
    access = await org_access(principal, row["organization"], "pipeline")
    access.require(permission)
    return access, row


async def org_access(principal: Principal, organization_id: uuid.UUID, kind: str) -> Access:
    """Access to the organization an object of ``kind`` belongs to; "not found" if none."""
    try:
        return await access_for_org(principal, org_id=organization_id)
    except NotFound:
        raise not_found(kind) from None


async def design_org_access(principal: Principal, design_id: uuid.UUID, permission: str) -> Access:
    """Access to a visible design's organization with ``permission``. A design shared with someone
    outside its organization stays visible to them, but its pipelines are the organization's."""
    design = await design_access(principal, design_id, "read")
    try:
        access = await access_for_org(principal, org_id=design.organization_id)
    except NotFound:
        raise Forbidden(
            "pipelines belong to the design's organization, and you are not a member of it"
        ) from None
    access.require(permission)
    return access


def _check_schedule(text: str | None, errors: list[FieldError]) -> None:
    if text is None:
        return
    minimum = dt.timedelta(seconds=get_settings().worker.drift_min_interval)
    try:
        parse_schedule(text, minimum)
    except ScheduleError as exc:
        errors.append(FieldError("drift_schedule", str(exc)))


def _check_modes(auto_apply: bool, require_approval: bool, errors: list[FieldError]) -> None:
    if auto_apply and require_approval:
        message = "auto_apply applies without waiting; it cannot be combined with require_approval"
        errors.append(FieldError("auto_apply", message))
        errors.append(FieldError("require_approval", message))


async def _happened(
    access: Access, action: str, event: str, pipeline_id: uuid.UUID, details: dict[str, Any]
) -> None:
    """Audit a change of a pipeline and emit its domain event (inside the change's transaction)."""
    org = access.organization_id
    await audit.record(
        access.principal,
        action,
        organization_id=org,
        object_type="pipeline",
        object_id=pipeline_id,
        details=details,
    )
    await emit(
        access.principal,
        event,
        organization_id=org,
        object_type="pipeline",
        object_id=pipeline_id,
        data=details,
    )


def pipeline_read(row: dict[str, Any], state: dict[str, Any] | None) -> PipelineRead:
    return PipelineRead(
        id=row["id"],
        organization=row["organization.slug"],
        design_id=row["design"],
        environment=row["environment"],
        state=StateLink(
            name=row["state_name"],
            diverged=bool(state and state["diverged_at"] is not None),
            diverged_reason=state["diverged_reason"] if state else None,
        ),
        auto_apply=row["auto_apply"],
        require_approval=row["require_approval"],
        drift_schedule=row["drift_schedule"],
        next_drift_check_at=row["next_drift_check_at"],
        drift=_glance(row["drift_summary"]),
        last_applied_version=row["last_applied_version"],
        last_applied_at=row["last_applied_at"],
        last_execution_id=row["last_execution_id"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _glance(raw: Any) -> DriftGlance | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str | bytes):
        return msgspec.json.decode(raw, type=DriftGlance)
    return msgspec.convert(raw, DriftGlance)


async def _states(rows: list[dict[str, Any]]) -> dict[uuid.UUID, dict[str, Any]]:
    ids = [r["state_id"] for r in rows]
    if not ids:
        return {}
    found = await State.select(State.id, State.diverged_at, State.diverged_reason).where(State.id.is_in(ids))
    return {r["id"]: r for r in found}


async def read_rows(rows: list[dict[str, Any]]) -> list[PipelineRead]:
    states = await _states(rows)
    return [pipeline_read(r, states.get(r["state_id"])) for r in rows]


async def _one(pipeline_id: uuid.UUID) -> PipelineRead:
    row = await Pipeline.select(*COLUMNS).where(Pipeline.id == pipeline_id).first()
    if row is None:
        raise not_found("pipeline")
    return (await read_rows([row]))[0]


async def create_pipeline(principal: Principal, design_id: uuid.UUID, data: PipelineCreate) -> PipelineRead:
    access = await design_org_access(principal, design_id, "pipeline:write")
    errors: list[FieldError] = []
    _check_modes(data.auto_apply, data.require_approval, errors)
    _check_schedule(data.drift_schedule, errors)
    if errors:
        raise ValidationFailed("the pipeline cannot be created as asked", errors=errors)
    state_name = data.state_name or f"design-{design_id}-{data.environment}"
    taken = Conflict(
        f"the design already has a pipeline for {data.environment!r}, or another pipeline uses the "
        f"state {state_name!r}",
        errors=[FieldError("environment", "already has a pipeline")],
        code="pipeline-exists",
    )
    if await Pipeline.exists().where(
        (Pipeline.design == design_id) & (Pipeline.environment == data.environment)
    ):
        raise taken
    now = utcnow()
    pipeline_id = uuid.uuid4()
    with on_unique_violation(taken):
        async with transaction():
            state_id = await ownership.claim(
                access, state_name, design_id=design_id, environment=data.environment, pipeline_id=pipeline_id
            )
            await Pipeline.insert(
                Pipeline(
                    id=pipeline_id,
                    organization=access.organization_id,
                    design=design_id,
                    environment=data.environment,
                    state_id=state_id,
                    state_name=state_name,
                    auto_apply=data.auto_apply,
                    require_approval=data.require_approval,
                    drift_schedule=data.drift_schedule,
                    created_by=principal.user_id,
                    created_at=now,
                    updated_at=now,
                )
            )
            await environments.set_link(
                design_id,
                data.environment,
                environments.link(data.environment, pipeline_id, state_name, None, None),
            )
            details = {"design_id": str(design_id), "environment": data.environment, "state": state_name}
            await _happened(access, "pipeline.create", "pipeline.created", pipeline_id, details)
    return await _one(pipeline_id)


async def list_pipelines(principal: Principal, design_id: uuid.UUID) -> PipelineList:
    await design_org_access(principal, design_id, "pipeline:read")
    rows = await Pipeline.select(*COLUMNS).where(Pipeline.design == design_id).order_by(Pipeline.environment)
    return PipelineList(items=await read_rows(rows))


async def get_pipeline(principal: Principal, pipeline_id: uuid.UUID) -> PipelineRead:
    _, row = await pipeline_access(principal, pipeline_id, "pipeline:read")
    return (await read_rows([row]))[0]


async def update_pipeline(principal: Principal, pipeline_id: uuid.UUID, data: PipelineUpdate) -> PipelineRead:
    access, row = await pipeline_access(principal, pipeline_id, "pipeline:write")
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    errors: list[FieldError] = []
    _check_modes(
        changes.get("auto_apply", row["auto_apply"]),
        changes.get("require_approval", row["require_approval"]),
        errors,
    )
    _check_schedule(changes.get("drift_schedule"), errors)
    if errors:
        raise ValidationFailed("the pipeline cannot be changed as asked", errors=errors)
    if not changes:
        return (await read_rows([row]))[0]
    columns = {getattr(Pipeline, k): v for k, v in changes.items()}
    if "drift_schedule" in changes:
        columns[Pipeline.next_drift_check_at] = None  # the drift scheduler plans the next check anew
    async with transaction():
        await Pipeline.update({**columns, Pipeline.updated_at: utcnow()}).where(Pipeline.id == pipeline_id)
        await _happened(access, "pipeline.update", "pipeline.updated", pipeline_id, changes)
    return await _one(pipeline_id)


async def delete_pipeline(principal: Principal, pipeline_id: uuid.UUID) -> None:
    """Delete the pipeline, its variables and its history. Its state stays (it records real
    infrastructure; destroy first if that is what you want). Refused while an execution runs."""
    access, row = await pipeline_access(principal, pipeline_id, "pipeline:write")
    async with transaction():
        unfinished = await Execution.count().where(
            (Execution.pipeline == pipeline_id) & Execution.status.not_in(list(FINISHED))
        )
        if unfinished:
            raise Conflict(
                f"the pipeline has {unfinished} unfinished execution(s); cancel them first",
                code="pipeline-busy",
            )
        await ownership.release(row["state_id"], pipeline_id)
        await environments.set_link(row["design"], row["environment"], None)
        await Pipeline.delete().where(Pipeline.id == pipeline_id)
        details = {
            "design_id": str(row["design"]),
            "environment": row["environment"],
            "state": row["state_name"],
        }
        await _happened(access, "pipeline.delete", "pipeline.deleted", pipeline_id, details)
