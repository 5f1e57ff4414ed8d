"""The organization-wide Drift page's read: each pipeline with its latest drift check.

A finished check is the pipeline's drift glance (``PipelineRead.drift``, kept by the drift domain
as each check ends); a check still pending or running is newer than that, so it is looked up among
the organization's checks in flight. Authorized the one way (``access_for_org`` then ``scoped``);
nothing here decides a rule.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from app.accounts.authz import Principal, access_for_org, scoped
from app.console.reads import PipelineOverview, org_pipelines
from app.drift.schemas import IN_FLIGHT
from app.drift.tables import DriftCheck


@dataclass(frozen=True, slots=True)
class LatestCheck:
    """A pipeline's latest drift check, as the Drift page lists it (``id`` None: never checked)."""

    overview: PipelineOverview
    id: uuid.UUID | None
    status: str | None
    at: dt.datetime | None
    drifted: int | None
    """Resources drifted at the latest check that saw the infrastructure."""
    reason: str | None


async def latest_checks(principal: Principal, slug: str) -> list[LatestCheck]:
    """The organization's pipelines (``pipeline:read``), each with its latest drift check."""
    overviews = await org_pipelines(principal, slug)
    if not overviews:
        return []
    access = await access_for_org(principal, slug=slug, permission="pipeline:read")
    running: dict[uuid.UUID, dict] = {}
    rows = await scoped(
        DriftCheck, access, DriftCheck.id, DriftCheck.pipeline, DriftCheck.status, DriftCheck.created_at
    ).where(DriftCheck.status.is_in(list(IN_FLIGHT)))
    for row in sorted(rows, key=lambda r: r["created_at"]):
        running[row["pipeline"]] = row  # the newest in flight wins
    out = []
    for o in overviews:
        glance = o.pipeline.drift
        drifted = glance.drifted if glance else None
        row = running.get(o.pipeline.id)
        if row is not None:
            out.append(LatestCheck(o, row["id"], row["status"], row["created_at"], drifted, None))
        elif glance is not None:
            out.append(
                LatestCheck(o, glance.check_id, glance.status, glance.checked_at, drifted, glance.reason)
            )
        else:
            out.append(LatestCheck(o, None, None, None, None, None))
    return out
