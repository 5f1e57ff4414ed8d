"""Redis goes away and comes back empty, under a real `board3 serve` (a redis-server of the test's
own, never the shared one): 503s with Retry-After and one log line meanwhile, revocations that
stay revoked, and live design event streams that carry on."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from tests.designs.asgi import next_sse_event
from tests.designs.helpers import vpc_canvas
from tests.support.api import Api, assert_problem, bearer

pytestmark = pytest.mark.slow

EVENTS = "/api/v1/designs/{}/events"


class Stream:
    """An open server-sent event stream read chunk by chunk."""

    def __init__(self, response: httpx.Response) -> None:
        self.chunks = response.aiter_bytes()
        self.buffer = ""

    async def read(self) -> bytes | None:
        try:
            return await anext(self.chunks)
        except StopAsyncIteration:
            return None

    async def connected(self) -> None:
        while ": connected" not in self.buffer:
            self.buffer += (await asyncio.wait_for(self.read(), 10) or b"").decode()

    async def next_event(self, timeout: float = 15) -> dict[str, str] | None:
        return await next_sse_event(self.read, self, timeout)


async def _wait_until_ok(http: httpx.AsyncClient, headers: dict[str, str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        r = await http.get("/api/v1/auth/me", headers=headers)
        if r.status_code == 200:
            return
        assert r.status_code == 503, r.text
        assert time.monotonic() < deadline, "the server did not recover after Redis came back"
        await asyncio.sleep(0.2)


async def test_redis_outage_and_empty_restart(live_server, redis_server):
    server = live_server(REDIS_URL=redis_server.url)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        api = Api(http)
        owner = await api.register("redis")
        # A session logged out and a key revoked before the outage.
        ended = (await api.login(owner.email))["access_token"]
        assert (await http.post("/api/v1/auth/logout", headers=bearer(ended))).status_code == 204
        assert (await http.get("/api/v1/auth/me", headers=bearer(ended))).status_code == 401
        key = await api.api_key(owner, scopes=["org:read", "design:read"])
        keys = (await http.get(f"/api/v1/orgs/{owner.org_slug}/api-keys", headers=owner.headers)).json()
        key_id = next(k["id"] for k in keys if key.startswith(k["prefix"]))
        r = await http.delete(f"/api/v1/orgs/{owner.org_slug}/api-keys/{key_id}", headers=owner.headers)
        assert r.status_code == 204
        design = (
            await http.post(
                f"/api/v1/orgs/{owner.org_slug}/designs",
                json={"name": "live", "canvas": vpc_canvas(1)},
                headers=owner.headers,
            )
        ).json()
        did = design["id"]

        async with http.stream("GET", EVENTS.format(did), headers=owner.headers) as response:
            assert response.status_code == 200
            before = Stream(response)
            await before.connected()

            redis_server.kill()
            for _ in range(20):
                r = await http.get("/api/v1/auth/me", headers=owner.headers)
                body = assert_problem(r, 503)
                assert 1 <= int(r.headers["Retry-After"]) <= 30 and "Redis" in body["detail"]
            r = await http.post("/api/v1/auth/login", json={"email": owner.email, "password": owner.password})
            assert_problem(r, 503)
            r = await http.get(f"/api/v1/orgs/{owner.org_slug}", headers=bearer(key))
            assert r.status_code in (401, 503), r.text  # the key is refused either way

            redis_server.start()  # empty: no revocation marks, no counters, no subscriptions
            await _wait_until_ok(http, owner.headers)
            r = await http.get("/api/v1/auth/me", headers=bearer(ended))
            assert_problem(r, 401)
            assert r.json()["detail"] == "session has been revoked"
            assert_problem(await http.get(f"/api/v1/orgs/{owner.org_slug}", headers=bearer(key)), 401)

            # The stream opened before the outage is told it may have missed events...
            event = await before.next_event()
            assert event is not None and event["event"] == "resync", event
            async with http.stream("GET", EVENTS.format(did), headers=owner.headers) as later:
                after = Stream(later)
                await after.connected()
                # ...and both streams get what happens next.
                r = await http.post(
                    f"/api/v1/designs/{did}/versions",
                    json={"canvas": vpc_canvas(2), "base_version": 1},
                    headers=owner.headers,
                )
                assert r.status_code == 201, r.text
                for stream in (before, after):
                    event = await stream.next_event()
                    assert event is not None and event["event"] == "version.created", event
                    assert json.loads(event["data"])["data"]["version"] == 2

    log = server.output()
    assert log.count("redis is unreachable") == 1, log
    assert "redis is reachable again" in log
    assert "Traceback" not in log and "unhandled error" not in log
