"""Sliding-window limits for sign-in: at most ``limit`` events in any ``window`` seconds, exactly.

A fixed window (the API rate limit's ``INCR`` per minute) admits up to twice its limit across a
window boundary; for password guessing that matters. Here each key keeps the times of its recent
events (a Redis sorted set in production, so every process counts against one limit; a deque in
embedded mode): an event is admitted while fewer than ``limit`` fall in the last ``window``
seconds, and a refused one is not recorded, so a caller that keeps trying does not push its own
window forward. Sign-in is rare next to API traffic, so a set of at most ``limit`` entries per key
and one script call per attempt are cheap. Keys name no secrets (the caller hashes accounts).
"""

from __future__ import annotations

import math
import secrets
import time
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from redis.asyncio import Redis

Limit = tuple[str, int]  # (key, events allowed per window)


class Windows(Protocol):
    async def take(self, limits: Sequence[Limit], window: int) -> int:
        """Admit one event under every limit at once (and record it in each), or none: 0 when
        admitted, else the seconds until all of them have room."""

    async def wait(self, key: str, limit: int, window: int) -> int:
        """Seconds until ``key`` has room for one more event (0: it has room now); records nothing."""

    async def add(self, key: str, window: int) -> None:
        """Record one event under ``key`` whatever its limit (failures counted after the fact)."""


class MemoryWindows:
    def __init__(self) -> None:
        self._events: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float, window: int) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            if len(self._events) > 100_000:
                self._events = {k: v for k, v in self._events.items() if v and v[-1] > now - window}
            events = self._events[key] = deque()
        while events and events[0] <= now - window:
            events.popleft()
        return events

    def _wait(self, events: deque[float], limit: int, now: float, window: int) -> int:
        if len(events) < limit:
            return 0
        return max(1, math.ceil(events[-limit] + window - now))

    async def take(self, limits: Sequence[Limit], window: int) -> int:
        now = time.monotonic()
        recent = [(self._recent(key, now, window), limit) for key, limit in limits]
        wait = max((self._wait(events, limit, now, window) for events, limit in recent), default=0)
        if wait == 0:
            for events, _ in recent:
                events.append(now)
        return wait

    async def wait(self, key: str, limit: int, window: int) -> int:
        now = time.monotonic()
        return self._wait(self._recent(key, now, window), limit, now, window)

    async def add(self, key: str, window: int) -> None:
        self._recent(key, time.monotonic(), window).append(time.monotonic())


# KEYS: the windows; ARGV[1] now (ms), ARGV[2] window (ms), ARGV[3] a unique member, ARGV[3+i] the
# limit of KEYS[i], or -1 to record without checking. Returns 0 when recorded, else the wait (ms).
_TAKE = """
local now, window, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local limit = tonumber(ARGV[3 + i])
  if limit >= 0 then
    local n = redis.call('ZCARD', key)
    if n >= limit then
      local nth = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
      local w = tonumber(nth[2]) + window - now
      if w > wait then wait = w end
    end
  end
end
if wait > 0 or ARGV[4 + #KEYS] == 'peek' then return wait end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
end
return 0
"""


class RedisWindows:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_TAKE)

    async def _run(self, limits: Sequence[Limit], window: int, peek: bool = False) -> int:
        keys = [f"{self._prefix}:sw:{key}" for key, _ in limits]
        args: list[str | int] = [int(time.time() * 1000), window * 1000, secrets.token_hex(8)]
        args.extend(limit for _, limit in limits)
        if peek:
            args.append("peek")
        wait_ms = int(await self._script(keys=keys, args=args))
        return 0 if wait_ms <= 0 else max(1, math.ceil(wait_ms / 1000))

    async def take(self, limits: Sequence[Limit], window: int) -> int:
        return await self._run(limits, window)

    async def wait(self, key: str, limit: int, window: int) -> int:
        return await self._run([(key, limit)], window, peek=True)

    async def add(self, key: str, window: int) -> None:
        await self._run([(key, -1)], window)


def make_windows(redis: Redis | None, prefix: str) -> Windows:
    return MemoryWindows() if redis is None else RedisWindows(redis, prefix)
