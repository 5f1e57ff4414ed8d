"""Generation tokens (read with the gate, renewed after commit) and after-commit callbacks."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from app.db import after_commit, transaction
from app.lib import generations, runtime
from app.lib.gate import GENERATION_TTL_SECONDS, MemoryGate, RedisGate, RequestGate
from tests.conftest import REDIS_PREFIX, TEST_REDIS_URL


@pytest.fixture(params=["memory", "redis"])
async def gate(request: pytest.FixtureRequest) -> AsyncIterator[RequestGate]:
    if request.param == "memory":
        yield MemoryGate()
        return
    redis = Redis.from_url(TEST_REDIS_URL)
    redis_gate = RedisGate(redis, REDIS_PREFIX, TEST_REDIS_URL)
    try:
        yield redis_gate
    finally:
        await redis_gate.close()
        await redis.aclose()


async def tokens(gate: RequestGate, *names: str) -> tuple[str, ...]:
    admission = await gate.admit(f"gen-{uuid.uuid4().hex}", 100, 60, None, names)
    assert not admission.revoked and len(admission.tokens) == len(names)
    return admission.tokens


async def test_tokens_hold_until_renewed(gate: RequestGate) -> None:
    a, b = f"design:{uuid.uuid4()}", f"org:{uuid.uuid4()}"
    first = await tokens(gate, a, b)
    assert first[0] != first[1]
    assert await tokens(gate, a, b) == first  # stable while nothing changes
    await gate.renew(a)
    second = await tokens(gate, a, b)
    assert second[0] != first[0] and second[1] == first[1]
    assert await tokens(gate, b, a) == (second[1], second[0])  # in the order asked


async def test_a_lost_token_comes_back_as_one_never_seen() -> None:
    """Redis restarts without persistence: tokens must not restart at a value seen before."""
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        gate = RedisGate(redis, REDIS_PREFIX, TEST_REDIS_URL)
        name = f"design:{uuid.uuid4()}"
        seen = set(await tokens(gate, name))
        for _ in range(5):
            await gate.renew(name)
            seen.update(await tokens(gate, name))
            await redis.delete(f"{REDIS_PREFIX}:gen:{name}")  # lost, as in a restart
            seen.update(await tokens(gate, name))
        assert len(seen) == 11
        assert 0 < await redis.ttl(f"{REDIS_PREFIX}:gen:{name}") <= GENERATION_TTL_SECONDS
        await gate.close()
    finally:
        await redis.aclose()


async def test_revoked_request_reads_no_tokens(gate: RequestGate) -> None:
    mark = f"session:{uuid.uuid4().hex}"
    await gate.mark(mark, 30)
    refused = await gate.admit("caller", 5, 60, mark, (f"design:{uuid.uuid4()}",))
    assert refused.revoked and refused.tokens == ()


async def test_after_commit_runs_once_the_outermost_transaction_commits(client: Any) -> None:
    ran: list[str] = []

    def note(label: str) -> Any:
        async def callback() -> None:
            ran.append(label)

        return callback

    await after_commit(note("outside"))  # no transaction: at once
    assert ran == ["outside"]
    async with transaction():
        await after_commit(note("outer"))
        async with transaction():  # joins the outer transaction
            await after_commit(note("inner"))
        assert ran == ["outside"]  # the inner block's end is not a commit
    assert ran == ["outside", "outer", "inner"]
    with pytest.raises(RuntimeError):
        async with transaction():
            await after_commit(note("rolled back"))
            raise RuntimeError("boom")
    assert ran == ["outside", "outer", "inner"]  # a rollback drops them
    async with transaction():
        await after_commit(note("next"))
    assert ran[-1] == "next"  # nothing left over from the rolled-back block


class UnreachableGate(MemoryGate):
    async def renew(self, *names: str) -> None:
        raise ConnectionError("redis is down")


async def test_a_renewal_that_fails_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    token = runtime.bind(runtime.Runtime(UnreachableGate()))
    try:
        with caplog.at_level(logging.ERROR, logger="board3.generations"):
            await generations.renew("design:x")
    finally:
        runtime.unbind(token)
    assert "could not renew generations design:x" in caplog.text


class RecordingGate(MemoryGate):
    def __init__(self) -> None:
        super().__init__()
        self.renewed: list[str] = []

    async def renew(self, *names: str) -> None:
        self.renewed.extend(names)
        await super().renew(*names)


async def test_each_app_renews_through_the_gate_it_was_built_with(caplog: pytest.LogCaptureFixture) -> None:
    async def handler(scope, receive, send) -> None:
        await generations.renew(scope["path"])

    first, second = RecordingGate(), RecordingGate()
    await runtime.RuntimeBinding(handler, runtime.Runtime(first))(
        {"type": "http", "path": "design:a"}, None, None
    )
    await runtime.RuntimeBinding(handler, runtime.Runtime(second))(
        {"type": "http", "path": "design:b"}, None, None
    )
    assert (first.renewed, second.renewed) == (["design:a"], ["design:b"])
    # Outside any app nothing is bound: the renewal is reported, never silently dropped.
    with caplog.at_level(logging.ERROR, logger="board3.generations"):
        await generations.renew("design:c")
    assert "no runtime is bound; generations design:c were not renewed" in caplog.text
