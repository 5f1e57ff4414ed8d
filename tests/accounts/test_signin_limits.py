"""Sign-in rate limits slow the attacker, not the owner: per address, per (account, address), and a
much higher per-account limit on failures that addresses the account knows get past. Windows
slide: never more than the limit in any window, also across what would be a fixed window's
boundary."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from contextlib import asynccontextmanager

import httpx
import pytest
from redis.asyncio import Redis

from app.accounts.signin_limits import SignInLimits
from app.lib.windows import MemoryWindows, RedisWindows
from tests.conftest import REDIS_PREFIX, TEST_REDIS_URL
from tests.support.api import PASSWORD, assert_problem

WRONG = "not the password at all"


@asynccontextmanager
async def limits(app, per_account_address: int, per_address: int, per_account: int):
    """The app's sign-in limits set low for one test, with windows of their own."""
    service = app.state.auth_service
    security = dataclasses.replace(
        service.security,
        rate_limit_auth_per_minute=per_account_address,
        rate_limit_auth_address_per_minute=per_address,
        rate_limit_auth_account_per_minute=per_account,
    )
    redis = Redis.from_url(TEST_REDIS_URL) if app.state.redis is not None else None
    windows = (
        RedisWindows(redis, f"{REDIS_PREFIX}:signin-{uuid.uuid4().hex[:8]}") if redis else MemoryWindows()
    )
    previous, service._limits = service._limits, SignInLimits(windows, security)
    try:
        yield
    finally:
        service._limits = previous
        if redis is not None:
            await redis.aclose()


@asynccontextmanager
async def from_address(app, ip: str):
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c


async def _login(c: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await c.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_an_attacker_guessing_from_one_address_does_not_lock_the_owner_out(client, api, app):
    owner = await api.register("victim")
    async with (
        limits(app, per_account_address=5, per_address=50, per_account=100),
        from_address(app, "10.66.0.1") as attacker,
    ):
        for _ in range(5):
            assert_problem(await _login(attacker, owner.email, WRONG), 401)
        refused = await _login(attacker, owner.email, PASSWORD)  # even the right password now
        assert_problem(refused, 429)
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # The owner, at their own address, signs in at once.
        assert (await _login(client, owner.email, PASSWORD)).status_code == 200


async def test_one_address_trying_many_accounts_is_limited(client, api, app):
    accounts = [await api.register(f"spray{i}") for i in range(4)]
    async with (
        limits(app, per_account_address=5, per_address=6, per_account=100),
        from_address(app, "10.66.0.2") as sprayer,
    ):
        codes = [(await _login(sprayer, a.email, WRONG)).status_code for a in accounts for _ in range(2)]
        assert codes == [401] * 6 + [429] * 2


async def test_many_addresses_guessing_one_account_stop_at_the_account_limit_but_the_owner_gets_in(
    client, api, app
):
    owner = await api.register("distributed")  # registered (and so signed in) from 127.0.0.1
    async with limits(app, per_account_address=5, per_address=50, per_account=4):
        for i in range(4):
            async with from_address(app, f"10.67.0.{i}") as attacker:
                assert_problem(await _login(attacker, owner.email, WRONG), 401)
        async with from_address(app, "10.67.0.99") as newcomer:
            assert_problem(await _login(newcomer, owner.email, PASSWORD), 429)
        # An address the account has signed in from recently is not held back.
        assert (await _login(client, owner.email, PASSWORD)).status_code == 200


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_windows_slide(kind):
    redis = Redis.from_url(TEST_REDIS_URL) if kind == "redis" else None
    windows = (
        RedisWindows(redis, f"{REDIS_PREFIX}:slide-{uuid.uuid4().hex[:8]}") if redis else MemoryWindows()
    )
    key = [("k", 3)]
    try:
        assert await windows.take(key, 2) == 0  # t = 0
        await asyncio.sleep(1.4)
        assert [await windows.take(key, 2) for _ in range(2)] == [0, 0]  # t = 1.4
        await asyncio.sleep(0.8)  # t = 2.2: a fixed window opened at t = 0 would be empty again
        admitted = [await windows.take(key, 2) == 0 for _ in range(3)]
        assert admitted == [True, False, False]  # only the event of t = 0 has left the window
        assert await windows.wait("k", 3, 2) >= 1
        await windows.add("k", 2)  # recorded whatever the limit (failed logins)
        assert await windows.wait("k", 10, 2) == 0 and await windows.wait("k", 4, 2) >= 1
    finally:
        if redis is not None:
            await redis.aclose()
