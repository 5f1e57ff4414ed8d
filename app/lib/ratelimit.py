"""The request gate: fixed-window rate limits with atomic counters, and revocation marks.

Every authenticated request asks two questions — "is this session revoked?" and "is this caller
over its rate limit?" — and on Redis both are answered by one script call, so they cost one round
trip together. Counters use ``INCR``, so several ``board3 serve`` processes count against one
limit (Litestar's own RateLimitMiddleware read-modify-writes its store, which undercounts when two
processes take requests at the same moment). Embedded mode keeps both in process memory.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class RateResult:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int


@dataclass(frozen=True, slots=True)
class Admission:
    """The answer for one request: revoked (and then not counted), or counted against the limit."""

    revoked: bool
    rate: RateResult | None


class RequestGate(Protocol):
    async def hit(self, key: str, limit: int, window_seconds: int) -> RateResult:
        """Count one event against ``key``'s limit."""

    async def admit(self, key: str, limit: int, window_seconds: int, revoked_mark: str | None) -> Admission:
        """Refuse at once if ``revoked_mark`` is set; otherwise count like ``hit``."""

    async def mark(self, name: str, ttl_seconds: int) -> None:
        """Set a revocation mark that expires after ``ttl_seconds``."""


class MemoryGate:
    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._marks: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateResult:
        now = time.monotonic()
        async with self._lock:
            count, reset_at = self._counts.get(key, (0, now + window_seconds))
            if now >= reset_at:
                count, reset_at = 0, now + window_seconds
            count += 1
            self._counts[key] = (count, reset_at)
            if len(self._counts) > 100_000:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        retry = max(1, math.ceil(reset_at - now))
        return RateResult(count <= limit, limit, max(0, limit - count), retry)

    async def admit(self, key: str, limit: int, window_seconds: int, revoked_mark: str | None) -> Admission:
        if revoked_mark is not None:
            expires = self._marks.get(revoked_mark)
            if expires is not None and expires > time.monotonic():
                return Admission(True, None)
        return Admission(False, await self.hit(key, limit, window_seconds))

    async def mark(self, name: str, ttl_seconds: int) -> None:
        now = time.monotonic()
        self._marks[name] = now + ttl_seconds
        if len(self._marks) > 100_000:
            self._marks = {k: v for k, v in self._marks.items() if v > now}


# KEYS[1] counter, KEYS[2] revocation mark (may be absent); ARGV[1] window seconds.
_ADMIT = """
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then return {-1, 0} end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""


class RedisGate:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_ADMIT)

    def _mark_key(self, name: str) -> str:
        return f"{self._prefix}:revoked:{name}"

    async def _run(self, key: str, limit: int, window_seconds: int, mark: str | None) -> Admission:
        keys = [f"{self._prefix}:rl:{key}"] + ([self._mark_key(mark)] if mark is not None else [])
        count, ttl = await self._script(keys=keys, args=[window_seconds])
        count, ttl = int(count), int(ttl)
        if count < 0:
            return Admission(True, None)
        return Admission(False, RateResult(count <= limit, limit, max(0, limit - count), max(1, ttl)))

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateResult:
        admission = await self._run(key, limit, window_seconds, None)
        assert admission.rate is not None
        return admission.rate

    async def admit(self, key: str, limit: int, window_seconds: int, revoked_mark: str | None) -> Admission:
        return await self._run(key, limit, window_seconds, revoked_mark)

    async def mark(self, name: str, ttl_seconds: int) -> None:
        await self._redis.set(self._mark_key(name), b"1", ex=max(1, ttl_seconds))


def make_gate(redis: Redis | None, prefix: str) -> RequestGate:
    return MemoryGate() if redis is None else RedisGate(redis, prefix)
