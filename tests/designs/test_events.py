"""Live design events over server-sent events: in-process, and across server processes via Redis."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.designs.asgi import EventStream, next_sse_event
from tests.designs.helpers import create_design, save, vpc_canvas
from tests.support.api import Api

EVENTS = "/api/v1/designs/{}/events"


async def test_collaborators_see_each_others_changes(client, api, app):
    owner = await api.register("evt")
    member = await api.register("evt2")
    guest = await api.register("evt3")
    await api.add_member(owner, member, "developer")
    design = await create_design(client, owner, vpc_canvas(1))
    did = design["id"]
    async with EventStream(app, EVENTS.format(did), owner.headers) as stream:
        assert stream.status == 200
        assert (await save(client, member, did, vpc_canvas(2), base=1)).status_code == 201
        event = await stream.next_event()
        assert event["event"] == "version.created"
        data = json.loads(event["data"])
        assert (data["design_id"], data["data"]["version"], data["actor"]) == (did, 2, member.email)
        assert event["id"] == data["id"]
        await client.patch(f"/api/v1/designs/{did}", json={"status": "active"}, headers=member.headers)
        event = await stream.next_event()
        assert event["event"] == "design.updated" and json.loads(event["data"])["data"] == {
            "status": "active"
        }
        r = await client.post(
            f"/api/v1/designs/{did}/comments", json={"body": "hi", "node_id": "vpc"}, headers=member.headers
        )
        event = await stream.next_event()
        assert (
            event["event"] == "comment.added"
            and json.loads(event["data"])["data"]["comment_id"] == r.json()["id"]
        )
        await client.patch(
            f"/api/v1/comments/{r.json()['id']}", json={"resolved": True}, headers=owner.headers
        )
        event = await stream.next_event()
        assert event["event"] == "comment.resolved" and json.loads(event["data"])["data"]["resolved"] is True
        await client.post(
            f"/api/v1/designs/{did}/shares",
            json={"email": guest.email, "permission": "view"},
            headers=owner.headers,
        )
        event = await stream.next_event()
        assert (
            event["event"] == "share.changed"
            and json.loads(event["data"])["data"]["user_id"] == guest.user_id
        )
        # A save that changes nothing publishes nothing; the next real one does.
        assert (await save(client, member, did, vpc_canvas(2), base=2)).status_code == 200
        assert (await save(client, member, did, vpc_canvas(3), base=2)).status_code == 201
        event = await stream.next_event()
        assert json.loads(event["data"])["data"]["version"] == 3


async def test_revoked_share_ends_the_stream_and_strangers_get_404(client, api, app):
    owner = await api.register("evr")
    guest = await api.register("evr2")
    stranger = await api.register("evr3")
    design = await create_design(client, owner, vpc_canvas(1))
    did = design["id"]
    async with EventStream(app, EVENTS.format(did), stranger.headers) as denied:
        assert denied.status == 404
        assert json.loads(await denied.body())["status"] == 404
    r = await client.post(
        f"/api/v1/designs/{did}/shares",
        json={"email": guest.email, "permission": "view"},
        headers=owner.headers,
    )
    share_id = r.json()["id"]
    async with EventStream(app, EVENTS.format(did), guest.headers) as stream:
        assert stream.status == 200
        await save(client, owner, did, vpc_canvas(2), base=1)
        assert (await stream.next_event())["event"] == "version.created"
        await client.delete(f"/api/v1/designs/{did}/shares/{share_id}", headers=owner.headers)
        assert await stream.next_event(timeout=5) is None  # the server closed the stream


@pytest.mark.slow
async def test_events_cross_server_processes(live_server):
    """Production mode: a save handled by one process reaches a stream held by another (Redis)."""
    first, second = live_server(), live_server()
    async with (
        httpx.AsyncClient(base_url=first.url, timeout=30) as a,
        httpx.AsyncClient(base_url=second.url, timeout=30) as b,
    ):
        owner = await Api(a).register("evx")
        design = (
            await a.post(
                f"/api/v1/orgs/{owner.org_slug}/designs",
                json={"name": "x", "canvas": vpc_canvas(1)},
                headers=owner.headers,
            )
        ).json()
        async with a.stream("GET", EVENTS.format(design["id"]), headers=owner.headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            chunks = response.aiter_bytes()

            class State:
                buffer = ""

            async def read() -> bytes | None:
                try:
                    return await anext(chunks)
                except StopAsyncIteration:
                    return None

            # Wait for the subscription to be live (the "connected" comment), then save elsewhere.
            while ": connected" not in State.buffer:
                State.buffer += (await asyncio.wait_for(read(), 10) or b"").decode()
            r = await b.post(
                f"/api/v1/designs/{design['id']}/versions",
                json={"canvas": vpc_canvas(2), "base_version": 1},
                headers=owner.headers,
            )
            assert r.status_code == 201, r.text
            event = await next_sse_event(read, State, timeout=10)
            assert event is not None and event["event"] == "version.created"
            assert json.loads(event["data"])["data"]["version"] == 2
