"""Revocation marks are copies of the database's ``revoked_at``: when the gate loses them (Redis
restarted empty or evicted them; an embedded-mode process restarted), a revoked session stays
refused, and a mark that could not be written is written before the next request is admitted."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

from redis.exceptions import ConnectionError as RedisConnectionError

from app.lib.gate import MemoryGate, RedisGate, RequestGate
from tests.conftest import REDIS_PREFIX, TEST_REDIS_URL
from tests.support.api import assert_problem, bearer


def _fresh_like(gate: RequestGate) -> RequestGate:
    """A gate of the same kind that remembers nothing (a Redis restarted empty, a new process)."""
    if isinstance(gate, RedisGate):
        from redis.asyncio import Redis

        return RedisGate(
            Redis.from_url(TEST_REDIS_URL), f"{REDIS_PREFIX}fresh{uuid.uuid4().hex[:8]}", TEST_REDIS_URL
        )
    return MemoryGate()


@asynccontextmanager
async def gate_of(app, gate: RequestGate):
    service = app.state.auth_service
    previous, service._gate = service._gate, gate
    try:
        yield
    finally:
        service._gate = previous
        await gate.close()


async def test_a_revoked_session_stays_refused_when_the_marks_are_lost(client, api, app):
    account = await api.register("marks")
    ended = (await api.login(account.email))["access_token"]
    assert (await client.post("/api/v1/auth/logout", headers=bearer(ended))).status_code == 204
    async with gate_of(app, _fresh_like(app.state.auth_service._gate)):
        r = await client.get("/api/v1/auth/me", headers=bearer(ended))
        assert_problem(r, 401)
        assert r.json()["detail"] == "session has been revoked"
        assert (await client.get("/api/v1/auth/me", headers=account.headers)).status_code == 200


class _MarkFails:
    """A gate whose next revocation mark cannot be written (Redis went away at that moment)."""

    def __init__(self, inner: RequestGate) -> None:
        self.inner = inner
        self.fail_next_mark = True

    async def mark(self, name: str, ttl_seconds: int) -> None:
        if self.fail_next_mark:
            self.fail_next_mark = False
            raise RedisConnectionError("connection reset")
        await self.inner.mark(name, ttl_seconds)

    async def close(self) -> None:
        """The inner gate is the app's own: it stays open."""

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


async def test_a_mark_that_could_not_be_written_is_written_before_the_next_request(client, api, app):
    account = await api.register("marks2")
    ended = (await api.login(account.email))["access_token"]
    gate = _MarkFails(app.state.auth_service._gate)
    async with gate_of(app, gate):  # type: ignore[arg-type]
        r = await client.post("/api/v1/auth/logout", headers=bearer(ended))
        assert_problem(r, 503)
        assert r.headers["Retry-After"]
        r = await client.get("/api/v1/auth/me", headers=bearer(ended))
        assert_problem(r, 401)
        assert r.json()["detail"] == "session has been revoked"
