"""Read caches for designs, versions and templates, and ETag helpers.

Entries hold finished JSON response bodies, in a process-local LRU backed by the shared store
(so one process's fill serves the others). Keys carry what makes them immutable: a design entry
is keyed by the design's ``revision`` (read from the database on every request, during the
permission check), a version by its number, a template by its revision. A write bumps the
revision in its transaction, so the next read can never find a stale entry; writers still delete
the old entry to free memory. Bodies are served only after the caller's permission is checked.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from cachetools import LRUCache
from litestar.stores.base import Store

log = logging.getLogger("board3.designs.cache")

TTL_SECONDS = 3600
LOCAL_MAX_BYTES = 64 * 1024 * 1024


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


class LocalBodies:
    """A small in-process LRU in front of the shared store, bounded by total bytes.

    Safe only because every key names an immutable representation (a revision or a version
    number): an entry can be evicted early but never be wrong.
    """

    def __init__(self, max_bytes: int = LOCAL_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: LRUCache[str, bytes] = LRUCache(maxsize=max_bytes, getsizeof=len)

    @property
    def size(self) -> int:
        return int(self._items.currsize)

    def get(self, key: str) -> bytes | None:
        return self._items.get(key)

    def put(self, key: str, body: bytes) -> None:
        if len(body) <= self.max_bytes // 8:
            self._items[key] = body

    def discard(self, key: str) -> None:
        self._items.pop(key, None)


@dataclass(frozen=True, slots=True)
class BodyCache:
    """Response bodies: the process-local LRU, then the shared ``cache`` store (Redis in production).

    Fails open: an unreachable store means a database read, not an error.
    """

    store: Store
    ttl: int = TTL_SECONDS
    local: LocalBodies = field(default_factory=LocalBodies)

    async def get(self, key: str) -> bytes | None:
        body = self.local.get(key)
        if body is not None:
            return body
        try:
            body = await self.store.get(key)
        except Exception as exc:
            log.warning("cache read failed: %s", exc)
            return None
        if body is not None:
            self.local.put(key, body)
        return body

    async def set(self, key: str, body: bytes) -> None:
        self.local.put(key, body)
        try:
            await self.store.set(key, body, expires_in=self.ttl)
        except Exception as exc:
            log.warning("cache write failed: %s", exc)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self.local.discard(key)
            try:
                await self.store.delete(key)
            except Exception as exc:
                log.warning("cache delete failed: %s", exc)
