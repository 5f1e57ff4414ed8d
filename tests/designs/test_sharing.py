"""Shares reach exactly one design (its versions, diff, comments) and end at once when revoked."""

from __future__ import annotations

from tests.designs.helpers import create_design, save, vpc_canvas
from tests.support.api import assert_problem


async def share(client, owner, design_id, user, permission):
    r = await client.post(
        f"/api/v1/designs/{design_id}/shares",
        json={"email": user.email, "permission": permission},
        headers=owner.headers,
    )
    assert r.status_code in (200, 201), r.text
    return r.json()


async def test_view_share_reaches_one_design_and_nothing_else(client, api):
    owner = await api.register("sview")
    guest = await api.register("sview2")
    design = await create_design(client, owner, vpc_canvas(1))
    other = await create_design(client, owner, vpc_canvas(1))
    await save(client, owner, design["id"], vpc_canvas(2), base=1)
    s = await share(client, owner, design["id"], guest, "view")
    assert (s["email"], s["permission"], s["user_id"]) == (guest.email, "view", guest.user_id)
    base = f"/api/v1/designs/{design['id']}"
    read = (await client.get(base, headers=guest.headers)).json()
    assert (read["id"], read["current_version"], len(read["canvas"]["nodes"])) == (design["id"], 2, 3)
    versions = (await client.get(f"{base}/versions", headers=guest.headers)).json()["items"]
    assert [v["number"] for v in versions] == [2, 1]
    v1 = (await client.get(f"{base}/versions/1", headers=guest.headers)).json()
    assert v1["canvas"] == design["canvas"]
    diff = (await client.get(f"{base}/diff?from=1&to=2", headers=guest.headers)).json()
    assert [n["id"] for n in diff["nodes_added"]] == ["subnet-1"]
    assert (await client.get(f"{base}/comments", headers=guest.headers)).json()["items"] == []
    # Nothing else of the organization.
    assert_problem(await client.get(f"/api/v1/designs/{other['id']}", headers=guest.headers), 404)
    for url in [
        f"/api/v1/orgs/{owner.org_slug}/designs",
        f"/api/v1/orgs/{owner.org_slug}/resources",
        f"/api/v1/orgs/{owner.org_slug}",
        f"/api/v1/orgs/{owner.org_slug}/members",
    ]:
        assert_problem(await client.get(url, headers=guest.headers), 404)
    # A view share neither writes nor comments nor manages.
    assert_problem(await save(client, guest, design["id"], vpc_canvas(3), base=2), 403)
    assert_problem(await client.patch(base, json={"name": "x"}, headers=guest.headers), 403)
    assert_problem(await client.post(f"{base}/comments", json={"body": "hi"}, headers=guest.headers), 403)
    assert_problem(await client.delete(base, headers=guest.headers), 403)
    assert_problem(await client.get(f"{base}/shares", headers=guest.headers), 403)
    r = await client.post(
        f"{base}/shares", json={"email": owner.email, "permission": "edit"}, headers=guest.headers
    )
    assert_problem(r, 403)
    r = await client.post(
        "/api/v1/templates/aws-eks/instantiate",
        json={"organization": owner.org_slug, "name": "x"},
        headers=guest.headers,
    )
    assert_problem(r, 404)
    shared = (await client.get("/api/v1/shared-designs", headers=guest.headers)).json()["items"]
    assert [(s["design"]["id"], s["permission"]) for s in shared] == [(design["id"], "view")]
    assert shared[0]["design"] == {k: v for k, v in read.items() if k not in ("canvas", "environments")}
    assert (await client.get("/api/v1/shared-designs", headers=owner.headers)).json()["items"] == []


async def test_edit_share_saves_and_revoking_ends_access_at_once(client, api):
    owner = await api.register("sedit")
    guest = await api.register("sedit2")
    design = await create_design(client, owner, vpc_canvas(1))
    base = f"/api/v1/designs/{design['id']}"
    s = await share(client, owner, design["id"], guest, "comment")
    assert (
        await client.post(f"{base}/comments", json={"body": "looks good"}, headers=guest.headers)
    ).status_code == 201
    assert_problem(await save(client, guest, design["id"], vpc_canvas(2), base=1), 403)
    upgraded = await client.post(
        f"{base}/shares", json={"email": guest.email, "permission": "edit"}, headers=owner.headers
    )
    assert upgraded.status_code == 200 and upgraded.json()["id"] == s["id"]
    assert (await save(client, guest, design["id"], vpc_canvas(2), base=1)).status_code == 201
    assert (await client.get(base, headers=guest.headers)).status_code == 200  # cached now
    listed = (await client.get(f"{base}/shares", headers=owner.headers)).json()
    assert [(x["email"], x["permission"]) for x in listed] == [(guest.email, "edit")]
    assert (await client.delete(f"{base}/shares/{s['id']}", headers=owner.headers)).status_code == 204
    for url in [base, f"{base}/versions", f"{base}/versions/2", f"{base}/comments"]:
        assert_problem(await client.get(url, headers=guest.headers), 404)
    assert_problem(await save(client, guest, design["id"], vpc_canvas(3), base=2), 404)
    assert (await client.get("/api/v1/shared-designs", headers=guest.headers)).json()["items"] == []
    assert_problem(await client.delete(f"{base}/shares/{s['id']}", headers=owner.headers), 404)


async def test_share_rules(client, api):
    owner = await api.register("srules")
    guest = await api.register("srules2")
    viewer = await api.register("srules3")
    await api.add_member(owner, viewer, "viewer")
    design = await create_design(client, owner, vpc_canvas(1))
    url = f"/api/v1/designs/{design['id']}/shares"
    r = await client.post(url, json={"email": "nobody-here@example.com"}, headers=owner.headers)
    assert_problem(r, 422, "email")
    assert_problem(await client.post(url, json={"email": owner.email}, headers=owner.headers), 422, "email")
    assert_problem(
        await client.post(url, json={"email": guest.email, "permission": "own"}, headers=owner.headers), 422
    )
    assert_problem(await client.post(url, json={"email": guest.email}, headers=viewer.headers), 403)
    s = await share(client, owner, design["id"], guest, "view")
    listed = await client.get(url, headers=viewer.headers)  # members who may read see the shares
    assert listed.status_code == 200 and [x["id"] for x in listed.json()] == [s["id"]]
    # The shared user may drop their own share.
    assert (await client.delete(f"{url}/{s['id']}", headers=guest.headers)).status_code == 204
    assert_problem(await client.get(f"/api/v1/designs/{design['id']}", headers=guest.headers), 404)
    r = await client.get(
        f"/api/v1/orgs/{owner.org_slug}/audit-logs",
        params={"object_id": design["id"], "action": "design.share.*"},
        headers=owner.headers,
    )
    assert sorted(e["action"] for e in r.json()["items"]) == ["design.share.create", "design.share.delete"]


async def test_deleted_design_is_gone_for_shared_users(client, api):
    owner = await api.register("sdel")
    guest = await api.register("sdel2")
    design = await create_design(client, owner, vpc_canvas(1))
    await share(client, owner, design["id"], guest, "edit")
    assert_problem(await client.delete(f"/api/v1/designs/{design['id']}", headers=guest.headers), 403)
    await client.delete(f"/api/v1/designs/{design['id']}", headers=owner.headers)
    assert_problem(await client.get(f"/api/v1/designs/{design['id']}", headers=guest.headers), 404)
    assert (await client.get("/api/v1/shared-designs", headers=guest.headers)).json()["items"] == []
