"""Pipeline watchers: who hears about a pipeline's drift.

Without a choice of their own, the pipeline's creator and every user who started one of its
executions watch it; anyone who can read the pipeline may watch it explicitly, or stop watching
(which wins over being its creator or a starter).
"""

from __future__ import annotations

import uuid

from app.accounts.authz import Principal
from app.accounts.tables import Member
from app.db import transaction
from app.events import audit
from app.lib.clock import utcnow
from app.lib.errors import BadRequest
from app.notifications.schemas import WatchRead
from app.notifications.tables import PipelineWatch
from app.pipelines.pipelines import pipeline_access
from app.pipelines.tables import Execution, Pipeline


def user_of(principal: Principal) -> uuid.UUID:
    """Notifications and watches belong to users; API keys and runs have none."""
    if principal.kind != "user" or principal.user_id is None:
        raise BadRequest("notifications and watches belong to users: sign in instead of using an API key")
    return principal.user_id


async def _implicit(pipeline_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """The users who watch the pipeline without having chosen to, and why."""
    found: dict[uuid.UUID, str] = {}
    starters = (
        await Execution.select(Execution.created_by_id)
        .where(
            (Execution.pipeline == pipeline_id)
            & (Execution.created_by_type == "user")
            & Execution.created_by_id.is_not_null()
        )
        .distinct()
    )
    for row in starters:
        found[row["created_by_id"]] = "started-executions"
    creator = await Pipeline.select(Pipeline.created_by).where(Pipeline.id == pipeline_id).first()
    if creator is not None and creator["created_by"] is not None:
        found[creator["created_by"]] = "creator"
    return found


async def watchers(pipeline_id: uuid.UUID, organization_id: uuid.UUID) -> set[uuid.UUID]:
    """Every user watching the pipeline who is still a member of its organization (whether they
    may read pipelines is checked by the caller)."""
    users = set(await _implicit(pipeline_id))
    for row in await PipelineWatch.select(PipelineWatch.user, PipelineWatch.watching).where(
        PipelineWatch.pipeline == pipeline_id
    ):
        (users.add if row["watching"] else users.discard)(row["user"])
    members = await Member.select(Member.user).where(
        (Member.organization == organization_id) & Member.user.is_in(list(users) or [uuid.UUID(int=0)])
    )
    return {r["user"] for r in members}


async def get_watch(principal: Principal, pipeline_id: uuid.UUID) -> WatchRead:
    user_id = user_of(principal)
    await pipeline_access(principal, pipeline_id, "pipeline:read")
    return await _read(pipeline_id, user_id)


async def _read(pipeline_id: uuid.UUID, user_id: uuid.UUID) -> WatchRead:
    row = (
        await PipelineWatch.select(PipelineWatch.watching)
        .where((PipelineWatch.pipeline == pipeline_id) & (PipelineWatch.user == user_id))
        .first()
    )
    if row is not None:
        watching = bool(row["watching"])
        return WatchRead(
            pipeline_id=pipeline_id, watching=watching, reason="watching" if watching else "not-watching"
        )
    why = (await _implicit(pipeline_id)).get(user_id)
    return WatchRead(pipeline_id=pipeline_id, watching=why is not None, reason=why or "none")  # type: ignore[arg-type]


async def set_watch(principal: Principal, pipeline_id: uuid.UUID, watching: bool) -> WatchRead:
    """Watch (or stop watching) a pipeline: an explicit choice that wins over the defaults."""
    user_id = user_of(principal)
    access, _ = await pipeline_access(principal, pipeline_id, "pipeline:read")
    now = utcnow()
    async with transaction():
        changed = (
            await PipelineWatch.update({PipelineWatch.watching: watching, PipelineWatch.updated_at: now})
            .where((PipelineWatch.pipeline == pipeline_id) & (PipelineWatch.user == user_id))
            .returning(PipelineWatch.id)
        )
        if not changed:
            await PipelineWatch.insert(
                PipelineWatch(
                    organization=access.organization_id,
                    pipeline=pipeline_id,
                    user=user_id,
                    watching=watching,
                    updated_at=now,
                )
            ).on_conflict(action="DO NOTHING")
        await audit.record(
            principal,
            "pipeline.watch" if watching else "pipeline.unwatch",
            organization_id=access.organization_id,
            object_type="pipeline",
            object_id=pipeline_id,
        )
    return await _read(pipeline_id, user_id)
