"""Library units: cursors, rate limiters (memory and Redis), secret files."""

from __future__ import annotations

import os
import stat
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.lib.errors import BadRequest
from app.lib.gate import MemoryGate, RedisGate
from app.lib.pagination import decode_cursor, encode_cursor
from app.lib.secrets import file_secret


@given(st.lists(st.one_of(st.integers(), st.text(max_size=50), st.none()), max_size=5))
def test_cursor_round_trip(values):
    assert decode_cursor(encode_cursor(values)) == values


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", "eyJhIjoxfQ", "!" * 10])
def test_bad_cursors_are_400(cursor):
    with pytest.raises(BadRequest) as info:
        decode_cursor(cursor)
    assert info.value.errors[0].field == "query.cursor"


async def test_memory_gate_windows_and_marks():
    limiter = MemoryGate()
    results = [await limiter.hit("k", 3, 60) for _ in range(5)]
    assert [r.allowed for r in results] == [True, True, True, False, False]
    assert results[0].remaining == 2 and 1 <= results[-1].retry_after <= 60
    assert (await limiter.hit("other", 3, 60)).allowed
    # A new gate knows no revocation marks: it says so rather than admit a session.
    lost = await limiter.admit("caller", 3, 60, "session:s1")
    assert lost.marks_lost and not lost.revoked and lost.rate is None
    await limiter.restore_marks({})
    await limiter.mark("session:s1", 60)
    assert (await limiter.admit("caller", 3, 60, "session:s1")).revoked
    admitted = await limiter.admit("caller", 3, 60, "session:s2")
    assert not admitted.revoked and admitted.rate is not None and admitted.rate.remaining == 2


async def test_redis_gate_is_atomic_under_concurrency_and_honours_marks():
    import asyncio

    from redis.asyncio import Redis

    from tests.conftest import REDIS_PREFIX, TEST_REDIS_URL

    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        limiter = RedisGate(redis, REDIS_PREFIX, TEST_REDIS_URL)
        key = f"unit-{uuid.uuid4().hex}"
        results = await asyncio.gather(*(limiter.hit(key, 50, 60) for _ in range(200)))
        assert sum(r.allowed for r in results) == 50
        ttl = await redis.ttl(f"{REDIS_PREFIX}:rl:{key}")
        assert 0 < ttl <= 60
        mark = f"session:{uuid.uuid4().hex}"
        await limiter.restore_marks({})
        assert not (await limiter.admit(key + "x", 5, 60, mark)).revoked
        await limiter.mark(mark, 30)
        refused = await limiter.admit(key + "x", 5, 60, mark)
        assert refused.revoked and refused.rate is None
        assert int(await redis.get(f"{REDIS_PREFIX}:rl:{key}x")) == 1  # a refused request is not counted
        assert 0 < await redis.ttl(f"{REDIS_PREFIX}:revoked:{mark}") <= 30
        await limiter.close()
    finally:
        await redis.aclose()


def test_file_secret_is_created_once_with_mode_0600(tmp_path):
    path = tmp_path / "secrets" / "x.key"
    first = file_secret(path, lambda: "alpha")
    second = file_secret(path, lambda: "beta")
    assert first == second == "alpha"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
