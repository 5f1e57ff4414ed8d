"""Fixed-window rate limiting with atomic counters.

Redis ``INCR`` in production, so several ``board3 serve`` processes count against one limit; an
in-process counter in embedded mode. (Litestar's own RateLimitMiddleware read-modify-writes its
store, which undercounts when two processes take requests at the same moment.)
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


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_seconds: int) -> RateResult: ...


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
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


_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""


class RedisRateLimiter:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_HIT)

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateResult:
        count, ttl = await self._script(keys=[f"{self._prefix}:rl:{key}"], args=[window_seconds])
        count, ttl = int(count), int(ttl)
        return RateResult(count <= limit, limit, max(0, limit - count), max(1, ttl))


def make_rate_limiter(redis: Redis | None, prefix: str) -> RateLimiter:
    return MemoryRateLimiter() if redis is None else RedisRateLimiter(redis, prefix)
