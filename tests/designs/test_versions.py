"""Versions: race-free numbering, conflicts, identical saves, restore, diff, ETags and the cache."""

from __future__ import annotations

import asyncio

import pytest

from tests.designs.helpers import create_design, node, save, vpc_canvas
from tests.support.api import assert_problem


async def test_stale_base_is_409_with_current_version_and_writes_nothing(client, api):
    owner = await api.register("vconf")
    design = await create_design(client, owner, vpc_canvas(1))
    assert (await save(client, owner, design["id"], vpc_canvas(2), base=1)).status_code == 201
    body = assert_problem(await save(client, owner, design["id"], vpc_canvas(3), base=1), 409, "base_version")
    assert body["current_version"] == 2
    assert_problem(await save(client, owner, design["id"], vpc_canvas(3), base=7), 409)
    versions = (await client.get(f"/api/v1/designs/{design['id']}/versions", headers=owner.headers)).json()[
        "items"
    ]
    assert [v["number"] for v in versions] == [2, 1]
    current = (await client.get(f"/api/v1/designs/{design['id']}", headers=owner.headers)).json()
    assert len(current["canvas"]["nodes"]) == 3  # vpc + 2 subnets: the rejected save left no trace


async def test_identical_canvas_returns_current_version_with_200(client, api):
    owner = await api.register("vsame")
    design = await create_design(client, owner, vpc_canvas(2))
    reordered = vpc_canvas(2)
    reordered["nodes"].reverse()
    r = await save(client, owner, design["id"], reordered, base=1, message="no-op")
    assert r.status_code == 200, r.text
    assert r.json()["number"] == 1 and r.json()["content_hash"] == design["content_hash"]
    # Even on a stale base: the caller's canvas already is the current one, so nothing conflicts.
    assert (await save(client, owner, design["id"], vpc_canvas(3), base=1)).status_code == 201
    again = await save(client, owner, design["id"], vpc_canvas(3), base=1)
    assert again.status_code == 200 and again.json()["number"] == 2


async def test_twenty_concurrent_saves_one_wins(client, api):
    owner = await api.register("vrace")
    design = await create_design(client, owner, vpc_canvas(1))
    bodies = [
        {
            "canvas": {**vpc_canvas(1), "nodes": [*vpc_canvas(1)["nodes"], node(f"extra-{i}")]},
            "base_version": 1,
        }
        for i in range(20)
    ]
    url = f"/api/v1/designs/{design['id']}/versions"
    results = await asyncio.gather(*(client.post(url, json=body, headers=owner.headers) for body in bodies))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] + [409] * 19, statuses
    for r in results:
        if r.status_code == 409:
            assert r.json()["current_version"] == 2
    versions = (await client.get(f"/api/v1/designs/{design['id']}/versions", headers=owner.headers)).json()[
        "items"
    ]
    assert [v["number"] for v in versions] == [2, 1]
    # Then everyone rebases on 2: exactly one more wins each round, numbers stay dense.
    for round_ in range(3):
        current = 2 + round_
        results = await asyncio.gather(
            *(
                client.post(
                    url,
                    json={
                        "canvas": {
                            **vpc_canvas(1),
                            "nodes": [*vpc_canvas(1)["nodes"], node(f"r{round_}-{i}")],
                        },
                        "base_version": current,
                    },
                    headers=owner.headers,
                )
                for i in range(5)
            )
        )
        assert sorted(r.status_code for r in results) == [201, 409, 409, 409, 409]
    numbers = [
        v["number"]
        for v in (await client.get(f"/api/v1/designs/{design['id']}/versions", headers=owner.headers)).json()[
            "items"
        ]
    ]
    assert numbers == [5, 4, 3, 2, 1]


async def test_restore_creates_a_new_version_with_the_old_canvas(client, api):
    owner = await api.register("vrestore")
    design = await create_design(client, owner, vpc_canvas(1))
    await save(client, owner, design["id"], vpc_canvas(4), base=1)
    r = await client.post(f"/api/v1/designs/{design['id']}/versions/1/restore", headers=owner.headers)
    assert r.status_code == 201, r.text
    assert (r.json()["number"], r.json()["restored_from"]) == (3, 1)
    assert r.json()["content_hash"] == design["content_hash"]
    current = (await client.get(f"/api/v1/designs/{design['id']}", headers=owner.headers)).json()
    assert current["current_version"] == 3 and len(current["canvas"]["nodes"]) == 2
    # Restoring what is already current changes nothing.
    same = await client.post(f"/api/v1/designs/{design['id']}/versions/3/restore", headers=owner.headers)
    assert same.status_code == 200 and same.json()["number"] == 3
    stale = await client.post(
        f"/api/v1/designs/{design['id']}/versions/2/restore", json={"base_version": 1}, headers=owner.headers
    )
    assert_problem(stale, 409)
    assert_problem(
        await client.post(f"/api/v1/designs/{design['id']}/versions/9/restore", headers=owner.headers), 404
    )


async def test_version_reads_and_etags(client, api):
    owner = await api.register("vread")
    design = await create_design(client, owner, vpc_canvas(1), message="initial")
    await save(client, owner, design["id"], vpc_canvas(2), base=1, message="second")
    url = f"/api/v1/designs/{design['id']}/versions"
    v1 = await client.get(f"{url}/1", headers=owner.headers)
    assert (
        v1.status_code == 200 and v1.json()["message"] == "initial" and len(v1.json()["canvas"]["nodes"]) == 2
    )
    etag = v1.headers["etag"]
    r = await client.get(f"{url}/1", headers={**owner.headers, "If-None-Match": etag})
    assert r.status_code == 304 and r.headers["etag"] == etag and r.content == b""
    assert (await client.get(f"{url}/2", headers={**owner.headers, "If-None-Match": etag})).status_code == 200
    for bad in ("0", "3", "99999"):
        assert_problem(await client.get(f"{url}/{bad}", headers=owner.headers), 404)
    assert_problem(await client.get(f"{url}/abc", headers=owner.headers), 404)
    page = (await client.get(url, params={"limit": 1}, headers=owner.headers)).json()
    assert [v["number"] for v in page["items"]] == [2] and page["next_cursor"]
    rest = (
        await client.get(url, params={"limit": 1, "cursor": page["next_cursor"]}, headers=owner.headers)
    ).json()
    assert [v["number"] for v in rest["items"]] == [1] and rest["next_cursor"] is None


async def test_design_etag_and_no_stale_cache(client, api):
    owner = await api.register("vcache")
    member = await api.register("vcache2")
    await api.add_member(owner, member, "developer")
    design = await create_design(client, owner, vpc_canvas(1))
    url = f"/api/v1/designs/{design['id']}"
    first = await client.get(url, headers=owner.headers)
    etag = first.headers["etag"]
    assert (await client.get(url, headers={**owner.headers, "If-None-Match": etag})).status_code == 304
    assert (
        await client.get(url, headers={**owner.headers, "If-None-Match": f'W/{etag}, "x"'})
    ).status_code == 304
    # Another user writes; the very next read (cached before) shows it, with a new ETag.
    assert (await save(client, member, design["id"], vpc_canvas(5), base=1)).status_code == 201
    after = await client.get(url, headers={**owner.headers, "If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    assert after.json()["current_version"] == 2 and len(after.json()["canvas"]["nodes"]) == 6
    r = await client.patch(url, json={"name": "renamed-" + design["id"][:6]}, headers=member.headers)
    assert r.status_code == 200
    assert (await client.get(url, headers=owner.headers)).json()["name"].startswith("renamed-")


async def test_cache_never_bypasses_permission(client, api):
    owner = await api.register("vperm")
    member = await api.register("vperm2")
    await api.add_member(owner, member, "viewer")
    design = await create_design(client, owner, vpc_canvas(1))
    url = f"/api/v1/designs/{design['id']}"
    assert (await client.get(url, headers=member.headers)).status_code == 200  # now cached
    await client.delete(f"/api/v1/orgs/{owner.org_slug}/members/{member.user_id}", headers=owner.headers)
    assert_problem(await client.get(url, headers=member.headers), 404)
    assert_problem(await client.get(f"{url}/versions/1", headers=member.headers), 404)


async def test_diff_endpoint(client, api):
    owner = await api.register("vdiff")
    design = await create_design(client, owner, vpc_canvas(2))
    edited = vpc_canvas(2)
    edited["nodes"][0]["properties"]["cidr_block"] = "10.1.0.0/16"
    edited["nodes"][0]["properties"]["enable_dns_hostnames"] = True
    edited["nodes"][1]["name"] = "renamed"
    edited["nodes"][2]["position"] = {"x": 99, "y": 1}
    edited["nodes"].append(node("igw", "aws_internet_gateway", "gw"))
    edited["edges"] = [edited["edges"][0], {"source": "igw", "target": "vpc", "attribute": "vpc_id"}]
    await save(client, owner, design["id"], edited, base=1)
    url = f"/api/v1/designs/{design['id']}/diff"
    d = (await client.get(url, params={"from": 1, "to": 2}, headers=owner.headers)).json()
    assert (d["design_id"], d["from_version"], d["to_version"]) == (design["id"], 1, 2)
    assert d["summary"] == {
        "nodes_added": 1,
        "nodes_removed": 0,
        "nodes_changed": 3,
        "edges_added": 1,
        "edges_removed": 1,
    }
    assert [n["id"] for n in d["nodes_added"]] == ["igw"]
    changes = {c["id"]: c for c in d["nodes_changed"]}
    assert changes["vpc"]["properties"] == [
        {"key": "cidr_block", "change": "changed", "old": "10.0.0.0/16", "new": "10.1.0.0/16"},
        {"key": "enable_dns_hostnames", "change": "added", "new": True},
    ]
    assert (
        changes["subnet-0"]["name"] == {"old": "s0", "new": "renamed"}
        and changes["subnet-0"]["properties"] == []
    )
    assert changes["subnet-1"]["position"] == {"old": {"x": 10.0, "y": 20.0}, "new": {"x": 99.0, "y": 1.0}}
    assert d["edges_removed"] == [{"source": "subnet-1", "target": "vpc", "attribute": "vpc_id"}]
    back = (await client.get(url, params={"from": 2, "to": 1}, headers=owner.headers)).json()
    assert [n["id"] for n in back["nodes_removed"]] == ["igw"]
    from_empty = (await client.get(url, params={"from": 0, "to": 1}, headers=owner.headers)).json()
    assert from_empty["summary"]["nodes_added"] == 3
    same = (await client.get(url, params={"from": 2, "to": 2}, headers=owner.headers)).json()
    assert same["summary"] == {k: 0 for k in same["summary"]}
    assert_problem(await client.get(url, params={"from": 1, "to": 5}, headers=owner.headers), 422, "query.to")
    both = assert_problem(await client.get(url, params={"from": 7, "to": 5}, headers=owner.headers), 422)
    assert [e["field"] for e in both["errors"]] == ["query.from", "query.to"]  # every bad one at once
    assert_problem(await client.get(url, params={"from": -1, "to": 1}, headers=owner.headers), 400)
    assert_problem(await client.get(url, params={"to": 1}, headers=owner.headers), 400)


async def test_versions_are_immutable_in_the_database(client, api):
    from app.designs.tables import DesignVersion

    owner = await api.register("vimm")
    design = await create_design(client, owner, vpc_canvas(1))
    with pytest.raises(Exception, match="immutable"):
        await DesignVersion.update({DesignVersion.message: "rewritten"}).where(
            DesignVersion.design == design["id"]
        )


async def test_diff_of_deeply_nested_properties(client, api):
    """Values as deep as the JSON decoder accepts are stored and diffed (no recursion failure)."""
    owner = await api.register("vdeep")
    design = await create_design(client, owner)
    for base, leaf in ((0, "1"), (1, "2")):
        deep = "[" * 900 + leaf + "]" * 900
        body = (
            '{"canvas": {"nodes": [{"id": "a", "type": "terraform_data", "name": "a", '
            '"properties": {"input": ' + deep + '}}], "edges": []}, "base_version": ' + str(base) + "}"
        )
        r = await client.post(
            f"/api/v1/designs/{design['id']}/versions",
            content=body.encode(),
            headers={**owner.headers, "Content-Type": "application/json"},
        )
        assert r.status_code == 201, r.text
    r = await client.get(
        f"/api/v1/designs/{design['id']}/diff", params={"from": 1, "to": 2}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    (change,) = r.json()["nodes_changed"]
    assert set(change) == {"id", "properties"}  # unchanged aspects are omitted
    assert [p["key"] for p in change["properties"]] == ["input"]
