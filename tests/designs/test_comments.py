"""Comments: anchored to nodes, threaded, resolvable; who may edit and delete."""

from __future__ import annotations

from tests.designs.helpers import create_design, save, vpc_canvas
from tests.support.api import assert_problem


async def comment(client, who, design_id, **body):
    r = await client.post(f"/api/v1/designs/{design_id}/comments", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_threads_anchors_filters_and_resolution(client, api):
    owner = await api.register("cthr")
    member = await api.register("cthr2")
    await api.add_member(owner, member, "viewer")  # readers may comment
    design = await create_design(client, owner, vpc_canvas(2))
    did = design["id"]
    on_vpc = await comment(client, owner, did, body="Why a /16?", node_id="vpc")
    assert (on_vpc["node_id"], on_vpc["version"], on_vpc["resolved"]) == ("vpc", 1, False)
    general = await comment(client, member, did, body="Ship it")
    reply = await comment(client, member, did, body="Room to grow", parent_id=on_vpc["id"])
    nested = await comment(client, owner, did, body="ok", parent_id=reply["id"])
    assert reply["parent_id"] == on_vpc["id"] and nested["parent_id"] == on_vpc["id"]  # threads stay flat
    url = f"/api/v1/designs/{did}/comments"
    threads = (await client.get(url, headers=owner.headers)).json()["items"]
    assert [t["id"] for t in threads] == [on_vpc["id"], general["id"]]
    assert [r["id"] for r in threads[0]["replies"]] == [reply["id"], nested["id"]]
    by_node = (await client.get(url, params={"node": "vpc"}, headers=owner.headers)).json()["items"]
    assert [t["id"] for t in by_node] == [on_vpc["id"]]
    r = await client.patch(
        f"/api/v1/comments/{on_vpc['id']}", json={"resolved": True}, headers=member.headers
    )
    assert r.status_code == 200 and r.json()["resolved"] and r.json()["resolved_by"] == member.user_id
    (listed,) = [
        t for t in (await client.get(url, headers=owner.headers)).json()["items"] if t["id"] == on_vpc["id"]
    ]
    assert {k: v for k, v in listed.items() if k != "replies"} == r.json()  # the response is the stored row
    assert [
        t["id"]
        for t in (await client.get(url, params={"resolved": "true"}, headers=owner.headers)).json()["items"]
    ] == [on_vpc["id"]]
    assert [
        t["id"]
        for t in (await client.get(url, params={"resolved": "false"}, headers=owner.headers)).json()["items"]
    ] == [general["id"]]
    assert_problem(
        await client.patch(f"/api/v1/comments/{reply['id']}", json={"resolved": True}, headers=owner.headers),
        422,
        "resolved",
    )
    reopened = await client.patch(
        f"/api/v1/comments/{on_vpc['id']}", json={"resolved": False}, headers=owner.headers
    )
    assert reopened.json()["resolved"] is False and reopened.json()["resolved_at"] is None
    # Anchors must exist in the version they name.
    await save(client, owner, did, vpc_canvas(1), base=1)  # v2 drops subnet-1
    assert_problem(
        await client.post(url, json={"body": "x", "node_id": "subnet-1"}, headers=owner.headers),
        422,
        "node_id",
    )
    old = await comment(client, owner, did, body="was here", node_id="subnet-1", version=1)
    assert old["version"] == 1
    assert_problem(
        await client.post(url, json={"body": "x", "node_id": "vpc", "version": 9}, headers=owner.headers),
        422,
        "version",
    )
    assert_problem(await client.post(url, json={"body": ""}, headers=owner.headers), 422, "body")
    r = await client.post(
        url, json={"body": "x", "parent_id": "00000000-0000-0000-0000-000000000000"}, headers=owner.headers
    )
    assert_problem(r, 422, "parent_id")
    r = await client.post(
        url,
        json={"body": "x", "parent_id": "00000000-0000-0000-0000-000000000000", "version": 9},
        headers=owner.headers,
    )
    assert [e["field"] for e in assert_problem(r, 422)["errors"]] == ["parent_id", "version"]


async def test_edit_and_delete_permissions(client, api):
    owner = await api.register("cperm")
    author = await api.register("cperm2")
    other = await api.register("cperm3")
    stranger = await api.register("cperm4")
    await api.add_member(owner, author, "developer")
    await api.add_member(owner, other, "developer")
    design = await create_design(client, owner, vpc_canvas(1))
    mine = await comment(client, author, design["id"], body="first draft")
    url = f"/api/v1/comments/{mine['id']}"
    assert_problem(await client.patch(url, json={"body": "hijacked"}, headers=other.headers), 403)
    assert_problem(await client.patch(url, json={"body": "hijacked"}, headers=owner.headers), 403)
    assert_problem(await client.patch(url, json={"body": "x"}, headers=stranger.headers), 404)
    edited = await client.patch(url, json={"body": "second draft"}, headers=author.headers)
    assert edited.status_code == 200 and edited.json()["body"] == "second draft"
    assert_problem(await client.delete(url, headers=other.headers), 403)
    assert_problem(await client.delete(url, headers=stranger.headers), 404)
    assert (await client.delete(url, headers=author.headers)).status_code == 204
    assert_problem(await client.delete(url, headers=author.headers), 404)
    listed = (await client.get(f"/api/v1/designs/{design['id']}/comments", headers=owner.headers)).json()
    assert listed["items"] == []  # without replies, a deleted comment is gone
    # Admins delete anyone's; a deleted comment with replies keeps its place, without its text.
    root = await comment(client, other, design["id"], body="spam?")
    await comment(client, author, design["id"], body="reply", parent_id=root["id"])
    assert (await client.delete(f"/api/v1/comments/{root['id']}", headers=owner.headers)).status_code == 204
    threads = (await client.get(f"/api/v1/designs/{design['id']}/comments", headers=author.headers)).json()[
        "items"
    ]
    (thread,) = [t for t in threads if t["id"] == root["id"]]
    assert thread["deleted"] and thread["body"] == "" and [r["body"] for r in thread["replies"]] == ["reply"]
    r = await client.get(
        f"/api/v1/orgs/{owner.org_slug}/audit-logs", params={"action": "comment.*"}, headers=owner.headers
    )
    assert {"comment.create", "comment.update", "comment.delete"} <= {e["action"] for e in r.json()["items"]}
