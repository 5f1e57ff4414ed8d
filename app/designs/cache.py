"""Read caches for designs, versions and templates, and ETag helpers.

Entries hold finished JSON response bodies. Keys carry what makes them immutable: a design entry
is keyed by the design's ``revision`` (read from the database on every request, during the
permission check), a version by its number, a template by its revision. A write bumps the
revision in its transaction, so the next read can never find a stale entry; writers still delete
the old entry to free memory. Bodies are served only after the caller's permission is checked.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from litestar.stores.base import Store

log = logging.getLogger("board3.designs.cache")

TTL_SECONDS = 3600


def design_key(design_id: uuid.UUID, revision: int) -> str:
    return f"design:{design_id}:{revision}"


def version_key(design_id: uuid.UUID, number: int) -> str:
    return f"version:{design_id}:{number}"


def template_key(template_id: uuid.UUID, revision: int) -> str:
    return f"template:{template_id}:{revision}"


def etag(*parts: object) -> str:
    """A strong entity tag from the parts that identify one representation."""
    return '"' + "-".join(str(p) for p in parts) + '"'


def etag_matches(if_none_match: str | None, current: str) -> bool:
    """``If-None-Match`` semantics (weak comparison, lists, ``*``)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        if tag.removeprefix("W/") == current:
            return True
    return False


@dataclass(frozen=True, slots=True)
class BodyCache:
    """The ``cache`` store, failing open: an unreachable cache means a database read, not an error."""

    store: Store
    ttl: int = TTL_SECONDS

    async def get(self, key: str) -> bytes | None:
        try:
            return await self.store.get(key)
        except Exception as exc:
            log.warning("cache read failed: %s", exc)
            return None

    async def set(self, key: str, body: bytes) -> None:
        try:
            await self.store.set(key, body, expires_in=self.ttl)
        except Exception as exc:
            log.warning("cache write failed: %s", exc)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            try:
                await self.store.delete(key)
            except Exception as exc:
                log.warning("cache delete failed: %s", exc)
