"""Organization-wide reads the console shows and the API has no list for yet: every pipeline of an
organization (with its design and last execution), and the organization's executions of the last
30 days for the analytics page.

Read-only, and authorized the one way (``access_for_org`` then ``scoped``); rows are turned into
the API's own read models by the pipelines service's helpers, so nothing here decides a rule.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from app.accounts.authz import Principal, access_for_org, scoped
from app.designs.tables import Design
from app.lib.clock import utcnow
from app.pipelines import pipelines
from app.pipelines.schemas import PipelineRead
from app.pipelines.tables import Execution, Pipeline

MAX_PIPELINES = 500
ANALYTICS_DAYS = 30


@dataclass(frozen=True, slots=True)
class PipelineOverview:
    pipeline: PipelineRead
    design_name: str
    last_status: str | None
    last_number: int | None
    last_operation: str | None
    last_at: dt.datetime | None


async def org_pipelines(
    principal: Principal, slug: str, design_id: uuid.UUID | None = None
) -> list[PipelineOverview]:
    """The organization's pipelines (``pipeline:read``) with their design's name and last run."""
    access = await access_for_org(principal, slug=slug, permission="pipeline:read")
    query = scoped(Pipeline, access, *pipelines.COLUMNS)
    if design_id is not None:
        query = query.where(Pipeline.design == design_id)
    rows = await query.order_by(Pipeline.environment).limit(MAX_PIPELINES)
    if not rows:
        return []
    reads = await pipelines.read_rows(rows)
    designs = {
        r["id"]: r["name"]
        for r in await scoped(Design, access, Design.id, Design.name).where(
            Design.id.is_in([r["design"] for r in rows])
        )
    }
    last_ids = [r["last_execution_id"] for r in rows if r["last_execution_id"] is not None]
    last: dict[uuid.UUID, dict[str, Any]] = {}
    if last_ids:
        found = await scoped(
            Execution,
            access,
            Execution.id,
            Execution.status,
            Execution.number,
            Execution.operation,
            Execution.created_at,
        ).where(Execution.id.is_in(last_ids))
        last = {r["id"]: r for r in found}
    out = []
    for read in sorted(reads, key=lambda p: (designs.get(p.design_id, ""), p.environment)):
        ex = last.get(read.last_execution_id) if read.last_execution_id else None
        out.append(
            PipelineOverview(
                pipeline=read,
                design_name=designs.get(read.design_id, "(deleted design)"),
                last_status=ex["status"] if ex else None,
                last_number=ex["number"] if ex else None,
                last_operation=ex["operation"] if ex else None,
                last_at=ex["created_at"] if ex else None,
            )
        )
    return out


async def recent_executions(
    principal: Principal, slug: str, days: int = ANALYTICS_DAYS
) -> list[dict[str, Any]]:
    """The organization's executions created in the last ``days`` days (``pipeline:read``): the
    columns ``app.pipelines.stats.window`` computes success rates and durations from."""
    access = await access_for_org(principal, slug=slug, permission="pipeline:read")
    since = utcnow() - dt.timedelta(days=days)
    rows: list[dict[str, Any]] = await scoped(
        Execution,
        access,
        Execution.pipeline,
        Execution.status,
        Execution.operation,
        Execution.created_at,
        Execution.started_at,
        Execution.finished_at,
    ).where(Execution.created_at >= since)
    return rows
