"""The gate's pipelined Redis connection, against the real Redis: replies matched to callers,
error replies, unknown scripts, lost connections, timeouts, AUTH/SELECT from the URL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import uvloop
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.lib.redis_pipe import PipelinedRedis, Script
from tests.conftest import REDIS_PREFIX, TEST_REDIS_URL


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(TEST_REDIS_URL)
    yield client
    await client.aclose()


def key() -> str:
    return f"{REDIS_PREFIX}:pipe:{uuid.uuid4().hex}"


async def test_concurrent_calls_get_their_own_replies(redis: Redis) -> None:
    pipe = PipelinedRedis(TEST_REDIS_URL)
    keys = [key() for _ in range(300)]
    replies = await asyncio.gather(*(pipe.execute("INCRBY", k, i) for i, k in enumerate(keys)))
    assert replies == list(range(300))
    assert int(await redis.get(keys[299])) == 299  # the URL's database was selected
    await redis.delete(*keys)
    await pipe.close()


async def test_an_error_reply_raises_and_the_connection_goes_on(redis: Redis) -> None:
    pipe = PipelinedRedis(TEST_REDIS_URL)
    k = key()
    await redis.set(k, "not a number")
    results = await asyncio.gather(
        pipe.execute("ECHO", "before"),
        pipe.execute("INCR", k),
        pipe.execute("ECHO", "after"),
        return_exceptions=True,
    )
    assert results[0] == b"before" and results[2] == b"after"
    assert isinstance(results[1], ResponseError) and "not an integer" in str(results[1])
    await redis.delete(k)
    await pipe.close()


async def test_a_script_unknown_to_redis_is_loaded(redis: Redis) -> None:
    pipe = PipelinedRedis(TEST_REDIS_URL)
    script = Script(f"return {{KEYS[1], ARGV[1], '{uuid.uuid4().hex}'}}")  # never seen by Redis
    first = await pipe.evalsha(script, ["k"], ["v"])
    assert first[:2] == [b"k", b"v"]
    assert (await redis.script_exists(script.sha)) == [True]  # EVAL cached it: EVALSHA from now on
    assert await pipe.evalsha(script, ["k2"], ["v2"]) == [b"k2", b"v2", first[2]]
    await pipe.close()


async def test_a_killed_connection_fails_its_calls_and_the_next_call_reconnects(redis: Redis) -> None:
    pipe = PipelinedRedis(TEST_REDIS_URL)
    name = f"pipe-{uuid.uuid4().hex[:8]}"
    await pipe.execute("CLIENT", "SETNAME", name)
    first_id = await pipe.execute("CLIENT", "ID")
    in_flight = asyncio.ensure_future(pipe.execute("BLPOP", key(), 5))  # held by the server
    await asyncio.sleep(0.1)
    await redis.execute_command("CLIENT", "KILL", "ID", first_id)
    with pytest.raises(RedisConnectionError):
        await in_flight
    assert await pipe.execute("PING") == b"PONG"  # on a new connection
    assert await pipe.execute("CLIENT", "ID") != first_id
    await pipe.close()


async def test_a_call_without_reply_times_out_and_the_connection_is_replaced(redis: Redis) -> None:
    pipe = PipelinedRedis(TEST_REDIS_URL, timeout=0.2)
    assert await pipe.execute("PING") == b"PONG"
    await redis.execute_command("CLIENT", "PAUSE", 600, "ALL")
    with pytest.raises(RedisTimeoutError):
        await pipe.execute("PING")
    await asyncio.sleep(0.6)
    assert await pipe.execute("PING") == b"PONG"
    await pipe.close()


async def test_unreachable_redis_is_a_connection_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    pipe = PipelinedRedis(f"redis://127.0.0.1:{port}/0", timeout=1)
    with pytest.raises(RedisConnectionError):
        await pipe.execute("PING")


async def test_a_failed_connection_is_not_retried_by_every_waiting_call(monkeypatch) -> None:
    """While Redis is unreachable, calls fail at once instead of each waiting out a connect
    timeout (a black-holed Redis would otherwise hold every request for seconds); a later call
    tries again, so service resumes by itself."""
    from app.lib import redis_pipe

    monkeypatch.setattr(redis_pipe, "RECONNECT_PAUSE_SECONDS", 0.2)
    pipe = PipelinedRedis(TEST_REDIS_URL)
    attempts = 0
    real_open = pipe._open

    async def unreachable() -> object:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.05)  # a slow failure, as a connect timeout is
        raise OSError("no route to host")

    monkeypatch.setattr(pipe, "_open", unreachable)
    results = await asyncio.gather(*(pipe.execute("PING") for _ in range(20)), return_exceptions=True)
    assert all(isinstance(r, RedisConnectionError) for r in results) and attempts == 1
    await asyncio.sleep(0.25)
    monkeypatch.setattr(pipe, "_open", real_open)
    assert await pipe.execute("PING") == b"PONG"
    await pipe.close()


async def test_auth_is_sent_from_the_url(redis: Redis) -> None:
    """Redis here has no password: AUTH with one is refused, and that refusal is reported."""
    pipe = PipelinedRedis(TEST_REDIS_URL.replace("redis://", "redis://someone:wrong@"), timeout=1)
    with pytest.raises(RedisConnectionError, match="refused"):
        await pipe.execute("PING")


def test_works_on_uvloop_as_board3_serve_runs_it() -> None:
    async def main() -> list[object]:
        pipe = PipelinedRedis(TEST_REDIS_URL)
        try:
            return list(await asyncio.gather(*(pipe.execute("ECHO", str(i)) for i in range(50))))
        finally:
            await pipe.close()

    assert uvloop.run(main()) == [str(i).encode() for i in range(50)]
