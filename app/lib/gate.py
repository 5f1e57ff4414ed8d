"""The request gate: fixed-window rate limits with atomic counters, revocation marks and
generation tokens.

Every authenticated request asks "is this session revoked?" and "is this caller over its rate
limit?", and may ask for the current generation tokens its route names (see
``app.lib.generations``); on Redis all of it is one script call, so it costs one round trip.
Counters use ``INCR``, so several ``board3 serve`` processes count against one limit (Litestar's
own RateLimitMiddleware read-modify-writes its store, which undercounts when two processes take
requests at the same moment). Embedded mode keeps all of it in process memory.

Revocation marks are copies: the database's ``revoked_at`` is the truth. Redis can lose them (an
empty restart, an eviction) and embedded mode loses them with the process, so the marks carry an
*epoch* key written together with them: a request that names a mark while the epoch is missing
is answered ``marks_lost``, and the caller restores the marks from the database
(``restore_marks``) before admitting anyone on a session. That costs one ``EXISTS`` inside the
script the request runs anyway, not a round trip.

A generation token names the current state of something other processes may remember facts
about (an organization's memberships, one design's access facts). Writers *renew* it after their
commit; a reader that remembered facts under the token it read before its own database query
knows they are still current while the token is unchanged. Tokens are never reused (a random
process id and a counter), never per-key counters: a token lost with Redis (a restart, an
eviction, its one-day expiry) comes back as a value nobody has seen, so a remembered fact can
never match again by accident.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from app.lib.outage import REDIS, REDIS_FAULTS
from app.lib.redis_pipe import PipelinedRedis, Script


@dataclass(frozen=True, slots=True)
class RateResult:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int


GENERATION_TTL_SECONDS = 86400


# Tokens are unique, not secret: a random process id and a counter (cheaper than 8 random bytes
# for every generation a request reads, most of which are never used).
_PROCESS_TOKEN = secrets.token_hex(6)
_token_counter = itertools.count()


def new_token() -> str:
    return f"{_PROCESS_TOKEN}.{next(_token_counter)}"


@dataclass(frozen=True, slots=True)
class Admission:
    """The answer for one request: revoked (and then not counted), or counted against the limit,
    with the current generation tokens the request asked for (in the order it named them); or,
    when the revocation marks were lost, neither (restore them and ask again)."""

    revoked: bool
    rate: RateResult | None
    tokens: tuple[str, ...] = ()
    marks_lost: bool = False


class RequestGate(Protocol):
    async def hit(self, key: str, limit: int, window_seconds: int) -> RateResult:
        """Count one event against ``key``'s limit."""

    async def admit(
        self,
        key: str,
        limit: int,
        window_seconds: int,
        revoked_mark: str | None,
        generations: Sequence[str] = (),
    ) -> Admission:
        """Refuse at once if ``revoked_mark`` is set; say ``marks_lost`` (and count nothing) if
        it is not but the marks' epoch is gone; otherwise count like ``hit`` and read the current
        token of each of ``generations``."""

    async def mark(self, name: str, ttl_seconds: int) -> None:
        """Set a revocation mark that expires after ``ttl_seconds``."""

    async def restore_marks(self, marks: dict[str, int]) -> None:
        """Set every mark (name -> seconds to live) and the epoch, atomically."""

    async def renew(self, *generations: str) -> None:
        """Give each named generation a new token: whatever was remembered under the old one is
        stale from now on."""

    async def close(self) -> None:
        """Release connections (at shutdown)."""


class MemoryGate:
    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._marks: dict[str, float] = {}
        self._epoch = False  # a new process knows no marks: they are restored on first need
        self._generations: dict[str, tuple[str, float]] = {}
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

    async def admit(
        self,
        key: str,
        limit: int,
        window_seconds: int,
        revoked_mark: str | None,
        generations: Sequence[str] = (),
    ) -> Admission:
        if revoked_mark is not None:
            expires = self._marks.get(revoked_mark)
            if expires is not None and expires > time.monotonic():
                return Admission(True, None)
            if not self._epoch:
                return Admission(False, None, marks_lost=True)
        rate = await self.hit(key, limit, window_seconds)
        return Admission(False, rate, tuple(self._token(name) for name in generations))

    def _token(self, name: str) -> str:
        now = time.monotonic()
        current = self._generations.get(name)
        if current is None or current[1] <= now:
            current = (new_token(), now + GENERATION_TTL_SECONDS)
            self._generations[name] = current
            if len(self._generations) > 100_000:
                self._generations = {k: v for k, v in self._generations.items() if v[1] > now}
        return current[0]

    async def renew(self, *generations: str) -> None:
        expires = time.monotonic() + GENERATION_TTL_SECONDS
        for name in generations:
            self._generations[name] = (new_token(), expires)

    async def close(self) -> None:
        return None

    async def mark(self, name: str, ttl_seconds: int) -> None:
        now = time.monotonic()
        self._marks[name] = now + ttl_seconds
        if len(self._marks) > 100_000:
            self._marks = {k: v for k, v in self._marks.items() if v > now}

    async def restore_marks(self, marks: dict[str, int]) -> None:
        for name, ttl in marks.items():
            await self.mark(name, ttl)
        self._epoch = True


# KEYS[1] counter, KEYS[2] revocation mark (or "" for none), KEYS[3] the marks' epoch (or ""),
# KEYS[4..] generation tokens; ARGV[1] window seconds, ARGV[2] a fresh token, which a missing
# generation key takes (suffixed with its position). Returns {count, ttl, token...}, {-1, 0} when
# revoked, {-2, 0} when the marks were lost.
ADMIT_SCRIPT = """
if KEYS[2] ~= '' then
  if redis.call('EXISTS', KEYS[2]) == 1 then return {-1, 0} end
  if redis.call('EXISTS', KEYS[3]) == 0 then return {-2, 0} end
end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
local out = {n, ttl}
for i = 4, #KEYS do
  local token = redis.call('GET', KEYS[i])
  if not token then
    token = ARGV[2] .. '.' .. i
    redis.call('SET', KEYS[i], token, 'EX', @TTL@)
  end
  out[#out + 1] = token
end
return out
""".replace("@TTL@", str(GENERATION_TTL_SECONDS))


class RedisGate:
    """The gate on Redis. Its per-request call goes over one pipelined connection
    (``app.lib.redis_pipe``); marks and renewals, which are rare, over the shared client."""

    def __init__(self, redis: Redis, prefix: str, url: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._pipe = PipelinedRedis(url)
        self._script = Script(ADMIT_SCRIPT)

    def _mark_key(self, name: str) -> str:
        return f"{self._prefix}:revoked:{name}"

    @property
    def _epoch_key(self) -> str:
        return f"{self._prefix}:revoked-epoch"

    def _generation_key(self, name: str) -> str:
        return f"{self._prefix}:gen:{name}"

    async def _run(
        self, key: str, limit: int, window_seconds: int, mark: str | None, generations: Sequence[str] = ()
    ) -> Admission:
        keys = [f"{self._prefix}:rl:{key}"]
        keys += [self._mark_key(mark), self._epoch_key] if mark is not None else ["", ""]
        keys.extend(self._generation_key(name) for name in generations)
        args: list[str | int] = [window_seconds, new_token()] if generations else [window_seconds]
        try:
            count, ttl, *tokens = await self._pipe.evalsha(self._script, keys, args)
        except REDIS_FAULTS as exc:
            REDIS.failed(exc)
            raise
        REDIS.recovered()
        count, ttl = int(count), int(ttl)
        if count < 0:
            return Admission(count == -1, None, marks_lost=count == -2)
        rate = RateResult(count <= limit, limit, max(0, limit - count), max(1, ttl))
        return Admission(False, rate, tuple(t.decode() if isinstance(t, bytes) else str(t) for t in tokens))

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateResult:
        admission = await self._run(key, limit, window_seconds, None)
        assert admission.rate is not None
        return admission.rate

    async def admit(
        self,
        key: str,
        limit: int,
        window_seconds: int,
        revoked_mark: str | None,
        generations: Sequence[str] = (),
    ) -> Admission:
        return await self._run(key, limit, window_seconds, revoked_mark, generations)

    async def mark(self, name: str, ttl_seconds: int) -> None:
        await self._redis.set(self._mark_key(name), b"1", ex=max(1, ttl_seconds))

    async def restore_marks(self, marks: dict[str, int]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for name, ttl in marks.items():
                pipe.set(self._mark_key(name), b"1", ex=max(1, ttl))
            pipe.set(self._epoch_key, b"1")
            await pipe.execute()

    async def renew(self, *generations: str) -> None:
        if not generations:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in generations:
                pipe.set(self._generation_key(name), new_token(), ex=GENERATION_TTL_SECONDS)
            await pipe.execute()

    async def close(self) -> None:
        await self._pipe.close()


def make_gate(redis: Redis | None, prefix: str, url: str | None) -> RequestGate:
    return MemoryGate() if redis is None or url is None else RedisGate(redis, prefix, url)
