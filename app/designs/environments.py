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
from app.designs.schemas import EnvironmentLink
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
    links = [x for x in decode_links(row["environments"]) if x.environment != environment]
    if link is not None:
        links.append(link)
    links.sort(key=lambda x: x.environment)
    await Design.update(
        {
            Design.environments: msgspec.to_builtins(links),
            Design.revision: Design.revision + 1,
            Design.updated_at: utcnow(),
        }
    ).where(Design.id == design_id)
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
