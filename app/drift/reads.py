"""Reading drift checks: one, a pipeline's history, a design diagram's marks (``pipeline:read``).

Another organization's check is "not found", like a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import msgspec

from app.accounts.authz import Access, Principal
from app.drift import compare
from app.drift.schemas import (
    RESULTS,
    Difference,
    DriftCheckPage,
    DriftCheckRead,
    DriftCheckSummary,
    DriftLinks,
    Link,
    ResourceDrift,
)
from app.drift.tables import DriftCheck
from app.lib.errors import BadRequest, FieldError, not_found
from app.lib.pagination import Keyset
from app.pipelines.pipelines import org_access, pipeline_access

API = "/api/v1"

_resources = msgspec.json.Decoder(list[ResourceDrift])


def decode_resources(raw: Any) -> list[ResourceDrift]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str | bytes):
        return _resources.decode(raw)
    return msgspec.convert(raw, list[ResourceDrift])


def decode(raw: Any, kind: type[Any]) -> Any:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str | bytes):
        return msgspec.json.decode(raw, type=kind)
    return msgspec.convert(raw, kind)


async def diagram_marks(principal: Principal, design_id: uuid.UUID, which: str) -> dict[str, str]:
    """Canvas node id -> ``changed`` | ``deleted`` for a design's diagram: from check ``which`` (an
    id; it must be one of the design's checks) or the design's latest check with a result
    (``latest``; none yet: nothing is marked). Drift checks need ``pipeline:read``."""
    if which == "latest":
        row = (
            await DriftCheck.select(DriftCheck.organization, DriftCheck.resources)
            .where((DriftCheck.design_id == design_id) & DriftCheck.status.is_in(list(RESULTS)))
            .order_by(DriftCheck.finished_at, ascending=False)
            .first()
            .output(load_json=True)
        )
        if row is None:
            return {}
        access = await org_access(principal, row["organization"], "drift check")
        access.require("pipeline:read")
    else:
        try:
            check_id = uuid.UUID(which)
        except ValueError:
            raise BadRequest(
                "drift must be a drift check id or `latest`",
                errors=[FieldError("query.drift", "not a drift check id")],
            ) from None
        _, row = await check_access(principal, check_id, "pipeline:read")
        if row["design_id"] != design_id:
            raise not_found("drift check")
    return compare.diagram_marks(decode_resources(row["resources"]))


async def check_access(
    principal: Principal, check_id: uuid.UUID, permission: str
) -> tuple[Access, dict[str, Any]]:
    """The check and the caller's access to its organization (404 for another tenant's)."""
    row: dict[str, Any] | None = (
        await DriftCheck.select().where(DriftCheck.id == check_id).first().output(load_json=True)
    )
    if row is None:
        raise not_found("drift check")
    access = await org_access(principal, row["organization"], "drift check")
    access.require(permission)
    return access, row


def _links(row: Mapping[str, Any]) -> DriftLinks:
    check, pipeline, execution = row["id"], row["pipeline"], row["execution_id"]
    drifted = row["status"] == "drifted"
    return DriftLinks(
        self=Link(method="GET", href=f"{API}/drift-checks/{check}"),
        pipeline=Link(method="GET", href=f"{API}/pipelines/{pipeline}"),
        execution=Link(method="GET", href=f"{API}/executions/{execution}") if execution else None,
        log=Link(method="GET", href=f"{API}/executions/{execution}/logs") if execution else None,
        diagram=(
            Link(method="GET", href=f"{API}/designs/{row['design_id']}/diagram.svg?drift={check}")
            if row["status"] in RESULTS
            else None
        ),
        accept=Link(method="POST", href=f"{API}/drift-checks/{check}/accept") if drifted else None,
        revert=(
            Link(
                method="POST",
                href=f"{API}/pipelines/{pipeline}/executions",
                body={"operation": "apply", "version": row["design_version"]},
            )
            if drifted
            else None
        ),
    )


def summary_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    resources = decode_resources(row["resources"])
    return {
        "id": row["id"],
        "pipeline_id": row["pipeline"],
        "design_id": row["design_id"],
        "environment": row["environment"],
        "design_version": row["design_version"],
        "status": row["status"],
        "trigger": row["trigger"],
        "reason": row["reason"],
        "execution_id": row["execution_id"],
        "counts": compare.counts(resources),
        "created_by": row["created_by_label"],
        "created_at": row["created_at"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
    }


def check_read(row: Mapping[str, Any]) -> DriftCheckRead:
    return DriftCheckRead(
        **summary_fields(row),
        resources=decode_resources(row["resources"]),
        previous_check_id=row["previous_check_id"],
        difference=decode(row["difference"], Difference),
        links=_links(row),
    )


async def reload(check_id: uuid.UUID) -> DriftCheckRead:
    row = await DriftCheck.select().where(DriftCheck.id == check_id).first().output(load_json=True)
    if row is None:
        raise not_found("drift check")
    return check_read(row)


async def get_check(principal: Principal, check_id: uuid.UUID) -> DriftCheckRead:
    _, row = await check_access(principal, check_id, "pipeline:read")
    return check_read(row)


async def list_checks(
    principal: Principal,
    pipeline_id: uuid.UUID,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> DriftCheckPage:
    """The pipeline's checks, newest first (``pipeline:read``)."""
    await pipeline_access(principal, pipeline_id, "pipeline:read")
    query = DriftCheck.select().where(DriftCheck.pipeline == pipeline_id)
    if status:
        query = query.where(DriftCheck.status == status)
    keyset = Keyset(DriftCheck.created_at, DriftCheck.id)
    rows = await keyset.apply(query, cursor, limit).output(load_json=True)
    page, next_cursor = keyset.page(rows, limit)
    return DriftCheckPage(
        items=[DriftCheckSummary(**summary_fields(r)) for r in page], next_cursor=next_cursor
    )
