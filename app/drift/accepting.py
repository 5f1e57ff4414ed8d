"""Accept a check's drift into the design: a new design version in which the drifted arguments take
their real values (``app.drift.accept`` decides the canvas; saving is the designs domain's own
``save_version``, with its conflict rule on ``base_version``).

The opposite choice, putting the infrastructure back, needs nothing new: it is an apply of the
checked version (the check's ``links.revert``).
"""

from __future__ import annotations

import uuid

from app.accounts.authz import Principal
from app.designs import versions
from app.designs.access import design_access
from app.designs.cache import BodyCache
from app.designs.events import DesignEvents
from app.designs.schemas import VersionCreate
from app.drift.accept import accept
from app.drift.reads import check_access, decode_resources
from app.drift.schemas import AcceptRequest, AcceptResult
from app.events import audit
from app.lib.errors import Conflict, FieldError, ValidationFailed
from app.terraform.catalog import get_catalog
from app.terraform.validate import validate


async def accept_drift(
    principal: Principal,
    cache: BodyCache,
    events: DesignEvents,
    check_id: uuid.UUID,
    data: AcceptRequest,
) -> AcceptResult:
    """``pipeline:read`` on the check and the right to write its design. 409 unless the check found
    drift, or when ``base_version`` is not the current version."""
    access, check = await check_access(principal, check_id, "pipeline:read")
    design = await design_access(principal, check["design_id"], "write")
    if check["status"] != "drifted":
        raise Conflict(
            f"the check is {check['status']}: only a check that found drift can be accepted",
            code="not-drifted",
            extra={"check_status": check["status"]},
        )
    drifted = decode_resources(check["resources"])
    chosen = drifted
    if data.resources is not None:
        known = {r.address for r in drifted}
        wrong = [
            FieldError(f"resources[{i}]", "not drifted in this check")
            for i, address in enumerate(data.resources)
            if address not in known
        ]
        if wrong:
            raise ValidationFailed("some resources are not drifted in this check", errors=wrong)
        wanted = set(data.resources)
        chosen = [r for r in drifted if r.address in wanted]
    base = design.current_version if data.base_version is None else data.base_version
    if base != design.current_version:
        raise Conflict(
            f"version {base} is not the current version ({design.current_version}); "
            "fetch the design and accept again",
            errors=[FieldError("base_version", "stale")],
            extra={"current_version": design.current_version},
            code="version-conflict",
        )
    _, canvas = await versions.load_canvas(principal, check["design_id"], base)
    catalog = get_catalog()
    outcome = accept(canvas, chosen, catalog, remove_deleted=data.remove_deleted)
    message = data.message or f"Accept drift found by check {check_id} ({check['environment']})"
    summary, created = await versions.save_version(
        principal,
        cache,
        events,
        check["design_id"],
        VersionCreate(canvas=outcome.canvas, base_version=base, message=message),
    )
    if created:
        await audit.record(
            principal,
            "drift.accept",
            organization_id=access.organization_id,
            object_type="drift_check",
            object_id=check_id,
            details={
                "design_id": str(check["design_id"]),
                "version": summary.number,
                "accepted": [f"{a.address}.{a.attribute}" for a in outcome.accepted],
                "removed_nodes": outcome.removed_nodes,
            },
        )
    return AcceptResult(
        check_id=check_id,
        design_id=check["design_id"],
        version=summary,
        created=created,
        accepted=outcome.accepted,
        removed_nodes=outcome.removed_nodes,
        not_accepted=outcome.not_accepted,
        valid=validate(outcome.canvas, catalog).valid,
    )
