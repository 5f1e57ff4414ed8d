"""In-process drift checks without terraform: a check's execution is moved through the real
execution machinery (``lifecycle.transition``, so the real end-of-check hook runs) with findings
the test chooses. For API tests that need checks with results."""

from __future__ import annotations

import uuid
from typing import Any

from app.drift import checks
from app.drift.schemas import AttributeDrift, ResourceDrift
from app.drift.tables import DriftCheck
from app.lib.clock import utcnow
from app.pipelines import lifecycle
from app.pipelines.model import PlanResult
from app.pipelines.tables import Pipeline

NOTHING = {"add": 0, "change": 0, "destroy": 0, "replace": 0}


async def applied(pipeline_id: str, version: int = 1) -> None:
    """Pretend the pipeline applied ``version`` (drift checks need an applied version)."""
    await Pipeline.update(
        {Pipeline.last_applied_version: version, Pipeline.last_applied_at: utcnow()}, use_auto_update=False
    ).where(Pipeline.id == uuid.UUID(pipeline_id))


async def _move(execution_id: uuid.UUID, action: str, *args: Any) -> None:
    row = await lifecycle.load(execution_id)
    assert row is not None
    fields = getattr(lifecycle.model_of(row), action)(*args)
    assert await lifecycle.transition(lifecycle.SYSTEM, row, fields)


async def finish(
    check_id: str, resources: list[ResourceDrift] | None = None, *, error: str | None = None
) -> None:
    """Run the check's (queued) execution to its end: these findings, or this error."""
    row = await DriftCheck.select(DriftCheck.execution_id).where(DriftCheck.id == uuid.UUID(check_id)).first()
    assert row is not None and row["execution_id"] is not None
    execution_id = row["execution_id"]
    now = utcnow()
    await _move(execution_id, "start_plan", now)
    await checks.mark_running(execution_id, now)
    if error is not None:
        await _move(execution_id, "error", error, now)
        return
    found = resources or []
    await checks.store_findings(execution_id, found)
    await _move(execution_id, "plan_finished", PlanResult(bool(found), NOTHING), now)


def changed(address: str, node_id: str | None, **attributes: tuple[Any, Any]) -> ResourceDrift:
    type_, _, name = address.partition(".")
    return ResourceDrift(
        address=address,
        type=type_,
        name=name,
        action="update",
        node_id=node_id,
        effect="will_be_reverted",
        attributes=[
            AttributeDrift(name=k, before=before, after=after, effect="will_be_reverted")
            for k, (before, after) in sorted(attributes.items())
        ],
    )


def deleted(address: str, node_id: str | None) -> ResourceDrift:
    type_, _, name = address.partition(".")
    return ResourceDrift(
        address=address, type=type_, name=name, action="delete", node_id=node_id, effect="will_be_reverted"
    )


def site() -> dict:
    """A network, a subnet, a load balancer in it serving a bucket (sandbox types, no terraform run)."""
    return {
        "nodes": [
            {
                "id": "net",
                "type": "sandbox_network",
                "name": "main",
                "properties": {"cidr_block": "10.0.0.0/16"},
            },
            {
                "id": "sub",
                "type": "sandbox_subnet",
                "name": "web",
                "properties": {"cidr_block": "10.0.1.0/24"},
                "parent": "net",
            },
            {
                "id": "lb",
                "type": "sandbox_load_balancer",
                "name": "site",
                "properties": {"listener_port": 443},
            },
            {"id": "bkt", "type": "sandbox_bucket", "name": "assets", "properties": {"name": "assets-x"}},
        ],
        "edges": [
            {"source": "sub", "target": "net"},
            {"source": "lb", "target": "sub", "attribute": "subnet_ids"},
            {"source": "lb", "target": "bkt", "attribute": "backend_bucket_id"},
        ],
    }
