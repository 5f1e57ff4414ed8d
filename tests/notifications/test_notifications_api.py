"""Notifications in process: who receives what, the inbox (unread first, filters, cursor, read,
read-all, count), preferences, pipeline watches, the live stream, and tenancy."""

from __future__ import annotations

import json
import uuid

from app.db import transaction
from app.events.bus import DomainEvent
from app.lib.clock import utcnow
from app.notifications.recipients import notify
from tests.designs.asgi import EventStream
from tests.designs.helpers import create_design
from tests.notifications.helpers import team
from tests.pipelines.support import data_canvas
from tests.states.support import basic, lock_info
from tests.support.api import Account, assert_problem


async def inbox(client, who: Account, **params) -> list[dict]:
    r = await client.get("/api/v1/notifications", params=params, headers=who.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def force_unlock(client, api, owner: Account, by: Account, name: str) -> None:
    key = await api.api_key(owner, ["state:read", "state:write"])
    r = await client.request(
        "LOCK", f"/tf/{owner.org_slug}/{name}/lock", json=lock_info(who="ci@runner"), headers=basic(key)
    )
    assert r.status_code == 200, r.text
    r = await client.delete(f"/api/v1/orgs/{owner.org_slug}/states/{name}/lock", headers=by.headers)
    assert r.status_code == 200, r.text


async def event(type_: str, org: str, actor: Account | None = None, **data) -> None:
    """Emit-like: run the notification subscriber as the bus would, in a transaction."""
    async with transaction():
        await notify(
            DomainEvent(
                id=uuid.uuid4(),
                type=type_,
                organization_id=uuid.UUID(org),
                object_type="execution",
                object_id=str(data.get("execution_id", "")),
                actor_type="user" if actor else "system",
                actor_id=uuid.UUID(actor.user_id) if actor else None,
                actor_label=actor.email if actor else "board3",
                data=data,
                created_at=utcnow(),
            )
        )


async def test_a_force_unlock_tells_the_state_admins_but_not_who_did_it(client, api) -> None:
    owner, m = await team(api, "nforce", admin="admin", dev="developer")
    await force_unlock(client, api, owner, m["admin"], "prod")
    [note] = await inbox(client, owner)
    assert note["type"] == "state.force_unlocked" and note["title"] == "The lock of state prod was removed"
    assert note["link"] == f"/api/v1/orgs/{owner.org_slug}/states/prod" and note["read"] is False
    assert note["organization_slug"] == owner.org_slug and note["data"]["holder"].startswith("api-key:")
    assert await inbox(client, m["admin"]) == [] and await inbox(client, m["dev"]) == []


async def test_executions_notify_approvers_and_starters_and_drift_notifies_watchers(client, api) -> None:
    owner, m = await team(api, "nexec", admin="admin", dev="developer", viewer="viewer")
    design = await create_design(client, owner, data_canvas(1))
    url = f"/api/v1/designs/{design['id']}/pipelines"
    r = await client.post(url, json={"environment": "prod", "require_approval": True}, headers=owner.headers)
    approval = r.json()["id"]
    r = await client.post(url, json={"environment": "dev"}, headers=owner.headers)
    confirm = r.json()["id"]
    run = (
        await client.post(
            f"/api/v1/pipelines/{approval}/executions", json={"operation": "apply"}, headers=m["dev"].headers
        )
    ).json()
    run2 = (
        await client.post(
            f"/api/v1/pipelines/{confirm}/executions", json={"operation": "apply"}, headers=m["dev"].headers
        )
    ).json()
    base = {"number": 1, "operation": "apply", "environment": "prod", "design_version": 1}
    await event(
        "execution.needs_approval", owner.org_id, execution_id=run["id"], pipeline_id=approval, **base
    )
    await event(
        "execution.needs_approval", owner.org_id, execution_id=run2["id"], pipeline_id=confirm, **base
    )
    await event(
        "execution.errored", owner.org_id, execution_id=run2["id"], pipeline_id=confirm, reason="boom", **base
    )
    types = {
        who: [n["type"] for n in await inbox(client, acc)] for who, acc in [("owner", owner), *m.items()]
    }
    assert types == {
        "owner": ["execution.needs_approval"],  # approvers: owner and admin
        "admin": ["execution.needs_approval"],
        "dev": ["execution.errored", "execution.needs_approval"],  # the starter: confirm, and the failure
        "viewer": [],
    }
    [failed, _] = await inbox(client, m["dev"])
    assert failed["title"] == "The apply #1 in prod failed" and failed["body"].endswith("boom")
    assert failed["link"] == f"/api/v1/executions/{run2['id']}"
    # Drift goes to watchers: the creator (owner) and the starter (dev) of the pipeline; the viewer
    # watches by choice; the owner stops watching.
    assert (await client.put(f"/api/v1/pipelines/{approval}/watch", headers=m["viewer"].headers)).json() == {
        "pipeline_id": approval,
        "watching": True,
        "reason": "watching",
    }
    r = await client.get(f"/api/v1/pipelines/{approval}/watch", headers=m["dev"].headers)
    assert r.json()["reason"] == "started-executions"
    r = await client.get(f"/api/v1/pipelines/{approval}/watch", headers=m["admin"].headers)
    assert r.json() == {"pipeline_id": approval, "watching": False, "reason": "none"}
    assert (await client.get(f"/api/v1/pipelines/{approval}/watch", headers=owner.headers)).json()[
        "reason"
    ] == "creator"
    r = await client.delete(f"/api/v1/pipelines/{approval}/watch", headers=owner.headers)
    assert r.status_code == 200 and r.json()["watching"] is False and r.json()["reason"] == "not-watching"
    await event("drift.detected", owner.org_id, pipeline_id=approval, environment="prod")
    drifted = {
        who: [n["type"] for n in await inbox(client, acc, type="drift.*")]
        for who, acc in [("owner", owner), *m.items()]
    }
    assert drifted == {"owner": [], "admin": [], "dev": ["drift.detected"], "viewer": ["drift.detected"]}
    stranger = await api.register("nexec-stranger")
    assert_problem(await client.put(f"/api/v1/pipelines/{approval}/watch", headers=stranger.headers), 404)
    assert_problem(await client.get(f"/api/v1/pipelines/{uuid.uuid4()}/watch", headers=owner.headers), 404)


async def test_the_inbox_lists_unread_first_with_filters_and_a_cursor(client, api) -> None:
    owner, m = await team(api, "ninbox", admin="admin")
    for name in ("a", "b", "c"):
        await force_unlock(client, api, owner, m["admin"], name)
    other, _ = await team(api, "ninbox2")
    r = await client.post(
        f"/api/v1/orgs/{other.org_slug}/invitations",
        json={"email": owner.email, "role": "viewer"},
        headers=other.headers,
    )
    assert r.status_code == 201, r.text
    notes = await inbox(client, owner)
    assert [n["type"] for n in notes] == ["invitation.created", *["state.force_unlocked"] * 3]
    invited = notes[0]
    assert invited["organization_id"] is None and invited["title"].startswith("You are invited to join")
    assert (await client.get("/api/v1/notifications/unread-count", headers=owner.headers)).json() == {
        "unread": 4
    }
    # Read the oldest: it moves behind the unread ones.
    oldest = notes[-1]
    r = await client.post(f"/api/v1/notifications/{oldest['id']}/read", headers=owner.headers)
    assert r.status_code == 200 and r.json()["read"] is True and r.json()["read_at"]
    walked, cursor = [], None
    while True:
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/notifications", params=params, headers=owner.headers)).json()
        walked += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [n["id"] for n in walked] == [n["id"] for n in notes[:3]] + [oldest["id"]]
    assert [n["read"] for n in walked] == [False, False, False, True]
    assert [n["id"] for n in await inbox(client, owner, unread="false")] == [oldest["id"]]
    assert len(await inbox(client, owner, type="state.*", unread="true")) == 2
    assert len(await inbox(client, owner, organization=owner.org_slug)) == 3
    r = await client.get(
        "/api/v1/notifications/unread-count", params={"organization": owner.org_slug}, headers=owner.headers
    )
    assert r.json() == {"unread": 2}
    r = await client.post("/api/v1/notifications/read-all", params={"type": "state.*"}, headers=owner.headers)
    assert r.json() == {"marked": 2}
    assert (await client.get("/api/v1/notifications/unread-count", headers=owner.headers)).json() == {
        "unread": 1
    }
    assert (await client.post("/api/v1/notifications/read-all", headers=owner.headers)).json() == {
        "marked": 1
    }
    # Someone else's notification does not exist for me; API keys have no notifications.
    stranger = await api.register("ninbox-stranger")
    assert_problem(
        await client.post(f"/api/v1/notifications/{oldest['id']}/read", headers=stranger.headers), 404
    )
    key = await api.api_key(owner)
    assert_problem(await client.get("/api/v1/notifications", headers={"Authorization": f"Bearer {key}"}), 400)
    assert_problem(
        await client.get("/api/v1/notifications", params={"cursor": "bad!"}, headers=owner.headers),
        400,
        "query.cursor",
    )


async def test_notifications_of_an_organization_one_left_are_hidden(client, api) -> None:
    owner, m = await team(api, "nleft", admin="admin", leaver="admin")
    await force_unlock(client, api, owner, owner, "s")
    assert len(await inbox(client, m["leaver"])) == 1
    r = await client.delete(
        f"/api/v1/orgs/{owner.org_slug}/members/{m['leaver'].user_id}", headers=m["leaver"].headers
    )
    assert r.status_code == 204
    assert await inbox(client, m["leaver"]) == []
    assert (await client.get("/api/v1/notifications/unread-count", headers=m["leaver"].headers)).json() == {
        "unread": 0
    }


async def test_preferences_mute_types(client, api) -> None:
    owner, m = await team(api, "nprefs", admin="admin")
    prefs = (await client.get("/api/v1/notifications/preferences", headers=owner.headers)).json()["events"]
    assert all(p["enabled"] for p in prefs) and "state.force_unlocked" in [p["type"] for p in prefs]
    r = await client.patch(
        "/api/v1/notifications/preferences",
        json={"events": {"state.force_unlocked": False}},
        headers=owner.headers,
    )
    assert {p["type"]: p["enabled"] for p in r.json()["events"]}["state.force_unlocked"] is False
    await force_unlock(client, api, owner, m["admin"], "muted")
    assert await inbox(client, owner) == []
    await client.patch(
        "/api/v1/notifications/preferences",
        json={"events": {"state.force_unlocked": True}},
        headers=owner.headers,
    )
    await force_unlock(client, api, owner, m["admin"], "heard")
    assert len(await inbox(client, owner)) == 1
    r = await client.patch(
        "/api/v1/notifications/preferences",
        json={"events": {"nope": False, "execution.created": True}},
        headers=owner.headers,
    )
    body = assert_problem(r, 422)
    assert {e["field"] for e in body["errors"]} == {"events.nope", "events.execution.created"}
    assert_problem(
        await client.patch(
            "/api/v1/notifications/preferences", json={"events": {"x": 1}}, headers=owner.headers
        ),
        422,
    )


async def test_the_live_stream_delivers_new_notifications(client, api, app) -> None:
    owner, m = await team(api, "nlive", admin="admin")
    await force_unlock(client, api, owner, m["admin"], "first")
    async with EventStream(app, "/api/v1/notifications/stream", owner.headers) as stream:
        assert stream.status == 200
        unread = await stream.next_event()
        assert unread["event"] == "unread" and json.loads(unread["data"]) == {"unread": 1}
        await force_unlock(client, api, owner, m["admin"], "second")
        got = await stream.next_event()
        assert got["event"] == "notification"
        note = json.loads(got["data"])
        assert note["title"] == "The lock of state second was removed" and got["id"] == note["id"]
        # Only the caller's own notifications come through.
        other, om = await team(api, "nlive2", admin="admin")
        await force_unlock(client, api, other, om["admin"], "elsewhere")
        await force_unlock(client, api, owner, m["admin"], "third")
        got = await stream.next_event()
        assert json.loads(got["data"])["title"] == "The lock of state third was removed"
    async with EventStream(app, "/api/v1/notifications/stream", {}) as refused:
        assert refused.status == 401
