"""Which environments a design is applied to: kept on the design row by the pipelines domain, so a
design read shows them without the designs domain knowing about pipelines.

A change bumps the design's revision (its ETag and cached body name the representation, which now
differs) and tells every process that what it remembers of the design is stale.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec

from app.db import for_update
from app.designs.access import design_access_changed
from app.designs.schemas import DriftGlance, EnvironmentLink
from app.designs.tables import Design
from app.lib.clock import utcnow

_decode = msgspec.json.Decoder(list[EnvironmentLink])


def decode_links(raw: Any) -> list[EnvironmentLink]:
    """The stored list (a JSON string or already decoded), sorted by environment."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str | bytes):
        links = _decode.decode(raw)
    else:
        links = msgspec.convert(raw, list[EnvironmentLink])
    return sorted(links, key=lambda link: link.environment)


async def set_link(design_id: uuid.UUID, environment: str, link: EnvironmentLink | None) -> None:
    """Replace (or, with ``None``, remove) ``environment``'s entry. Call inside the transaction of
    the change it reflects."""
    row = await for_update(Design.select(Design.environments).where(Design.id == design_id).first())
    if row is None:
        return
    old = {x.environment: x for x in decode_links(row["environments"])}
    previous = old.pop(environment, None)
    if link is not None:
        if link.drift is None and previous is not None and previous.pipeline_id == link.pipeline_id:
            link = msgspec.structs.replace(link, drift=previous.drift)  # an apply keeps the drift record
        old[environment] = link
    await _store(design_id, list(old.values()), touch=True)


async def set_drift(
    design_id: uuid.UUID, environment: str, pipeline_id: uuid.UUID, drift: DriftGlance
) -> None:
    """Record the latest drift check of ``environment``'s pipeline (inside the transaction that
    records the check). The design itself has not changed: its ``updated_at`` stays."""
    row = await for_update(Design.select(Design.environments).where(Design.id == design_id).first())
    if row is None:
        return
    links = decode_links(row["environments"])
    found = [x for x in links if x.environment == environment and x.pipeline_id == pipeline_id]
    if not found:
        return
    links = [msgspec.structs.replace(x, drift=drift) if x in found else x for x in links]
    await _store(design_id, links, touch=False)


async def _store(design_id: uuid.UUID, links: list[EnvironmentLink], *, touch: bool) -> None:
    links.sort(key=lambda x: x.environment)
    values: dict[Any, Any] = {
        Design.environments: msgspec.to_builtins(links),
        Design.revision: Design.revision + 1,
    }
    if touch:
        values[Design.updated_at] = utcnow()
    await Design.update(values, use_auto_update=False).where(Design.id == design_id)
    await design_access_changed(design_id)


def link(
    environment: str,
    pipeline_id: uuid.UUID,
    state: str,
    last_applied_version: int | None,
    last_applied_at: dt.datetime | None,
) -> EnvironmentLink:
    return EnvironmentLink(
        environment=environment,
        pipeline_id=pipeline_id,
        state=state,
        last_applied_version=last_applied_version,
        last_applied_at=last_applied_at,
    )
