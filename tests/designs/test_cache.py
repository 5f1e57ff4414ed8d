"""The body cache: a byte-bounded LRU in front of the shared store, failing open when it is down."""

from __future__ import annotations

from typing import Any

from litestar.stores.memory import MemoryStore

from app.designs.cache import BodyCache, LocalBodies, etag, etag_matches


def test_local_lru_is_bounded_by_bytes_and_evicts_the_least_recently_used() -> None:
    local = LocalBodies(max_bytes=800)  # entries of up to 100 bytes are kept
    for key in "abcdefgh":
        local.put(key, key.encode() * 100)
    assert local.size == 800
    assert local.get("a") == b"a" * 100  # "a" is now the most recently used
    local.put("i", b"i" * 100)  # 900 bytes: the least recently used ("b") goes
    assert local.get("b") is None and local.get("a") is not None and local.size == 800
    local.put("a", b"w" * 10)  # replacing an entry counts its new size only
    assert local.size == 710 and local.get("a") == b"w" * 10
    local.discard("c")
    assert local.size == 610 and local.get("c") is None
    local.put("huge", b"h" * 101)  # over an eighth of the budget: not kept locally
    assert local.get("huge") is None and local.size == 610


async def test_body_cache_fills_the_local_lru_from_the_shared_store() -> None:
    store = MemoryStore()
    await store.set("k", b"body")
    cache = BodyCache(store)
    assert await cache.get("k") == b"body"
    await store.delete("k")
    assert await cache.get("k") == b"body"  # served from the process-local copy
    await cache.delete("k")
    assert await cache.get("k") is None


class BrokenStore(MemoryStore):
    async def get(self, key: str, renew_for: Any = None) -> bytes | None:
        raise ConnectionError("redis is down")

    async def set(self, key: str, value: Any, expires_in: Any = None) -> None:
        raise ConnectionError("redis is down")

    async def delete(self, key: str) -> None:
        raise ConnectionError("redis is down")


async def test_body_cache_fails_open_when_the_store_is_down() -> None:
    cache = BodyCache(BrokenStore())
    assert await cache.get("k") is None
    await cache.set("k", b"body")  # no error; still served locally
    assert await cache.get("k") == b"body"
    await cache.delete("k")
    assert await cache.get("k") is None


def test_etag_matching() -> None:
    tag = etag("r3", "abc")
    assert tag == '"r3-abc"'
    assert etag_matches(tag, tag) and etag_matches(f"W/{tag}", tag)
    assert etag_matches(f'"other", {tag}', tag) and etag_matches("*", tag)
    assert not etag_matches(None, tag) and not etag_matches('"r2-abc"', tag)
