"""Designs through HTTP: create, list, read, update, delete, tenancy, permissions, bad input, audit."""

from __future__ import annotations

import uuid

from tests.designs.helpers import big_canvas, create_design, node, save, vpc_canvas
from tests.support.api import assert_problem


async def test_create_with_canvas_starts_at_version_1(client, api):
    owner = await api.register("dcreate")
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/designs",
        json={"name": "net", "description": "net", "cloud_provider": "aws", "canvas": vpc_canvas()},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    design = r.json()
    read = await client.get(f"/api/v1/designs/{design['id']}", headers=owner.headers)
    assert read.json() == design and read.headers["etag"] == r.headers["etag"]
    assert design["current_version"] == 1
    assert design["organization"] == owner.org_slug
    assert design["status"] == "draft" and design["cloud_provider"] == "aws"
    assert len(design["content_hash"]) == 64
    assert {n["id"] for n in design["canvas"]["nodes"]} == {"vpc", "subnet-0", "subnet-1"}
    versions = (await client.get(f"/api/v1/designs/{design['id']}/versions", headers=owner.headers)).json()
    assert [v["number"] for v in versions["items"]] == [1]
    assert versions["items"][0]["author"] == owner.email


async def test_create_empty_design_is_version_0(client, api):
    owner = await api.register("dempty")
    design = await create_design(client, owner)
    assert design["current_version"] == 0 and design["canvas"] == {"edges": [], "nodes": []}
    r = await save(client, owner, design["id"], vpc_canvas(), base=0, message="first")
    assert r.status_code == 201, r.text
    assert r.json()["number"] == 1 and r.json()["message"] == "first"


async def test_list_filters_and_paginates(client, api):
    owner = await api.register("dlist")
    tag = uuid.uuid4().hex[:6]
    for i in range(5):
        await create_design(client, owner, name=f"net-{tag}-{i}", cloud_provider="aws" if i % 2 else "google")
    await create_design(client, owner, name=f"other-{tag}", status="archived")
    url = f"/api/v1/orgs/{owner.org_slug}/designs"
    page1 = (await client.get(url, params={"limit": 2, "q": f"net-{tag}"}, headers=owner.headers)).json()
    page2 = (
        await client.get(
            url, params={"limit": 2, "q": f"net-{tag}", "cursor": page1["next_cursor"]}, headers=owner.headers
        )
    ).json()
    names = [d["name"] for d in page1["items"] + page2["items"]]
    assert len(names) == 4 and len(set(names)) == 4
    aws = (await client.get(url, params={"provider": "aws"}, headers=owner.headers)).json()["items"]
    assert {d["name"] for d in aws} == {f"net-{tag}-1", f"net-{tag}-3"}
    archived = (await client.get(url, params={"status": "archived"}, headers=owner.headers)).json()["items"]
    assert [d["name"] for d in archived] == [f"other-{tag}"]
    assert "canvas" not in page1["items"][0]
    assert_problem(
        await client.get(url, params={"cursor": "%%%"}, headers=owner.headers), 400, "query.cursor"
    )
    assert_problem(await client.get(url, params={"status": "gone"}, headers=owner.headers), 400)


async def test_name_search_matches_underscores_and_percent_signs_literally(client, api):
    owner = await api.register("dsearch")
    tag = uuid.uuid4().hex[:6]
    for name in (f"pay_{tag}_v2", f"payx{tag}xv2", f"pay{tag}v2", f"{tag} 100% ready", f"{tag} 1000 ready"):
        await create_design(client, owner, name=name)
    url = f"/api/v1/orgs/{owner.org_slug}/designs"

    async def names(q: str) -> set[str]:
        r = await client.get(url, params={"q": q}, headers=owner.headers)
        assert r.status_code == 200, r.text
        return {d["name"] for d in r.json()["items"]}

    assert await names(f"PAY_{tag}_") == {f"pay_{tag}_v2"}
    assert await names("100%") == {f"{tag} 100% ready"}
    assert await names(f"{tag}v2") == {f"pay{tag}v2"}
    assert await names("\\") == set()


async def test_names_unique_per_org_and_reusable_after_delete(client, api):
    owner = await api.register("dname")
    other = await api.register("dname2")
    first = await create_design(client, owner, name="Payments")
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/designs", json={"name": "payments"}, headers=owner.headers
    )
    assert_problem(r, 409, "name")
    await create_design(client, other, name="Payments")  # another organization may use it
    r = await client.delete(f"/api/v1/designs/{first['id']}", headers=owner.headers)
    assert r.status_code == 204
    assert_problem(await client.get(f"/api/v1/designs/{first['id']}", headers=owner.headers), 404)
    again = await create_design(client, owner, name="Payments")
    assert again["id"] != first["id"]
    second = await create_design(client, owner, name="Ledger")
    r = await client.patch(
        f"/api/v1/designs/{second['id']}", json={"name": "payments"}, headers=owner.headers
    )
    assert_problem(r, 409, "name")


async def test_update_metadata_with_if_match(client, api):
    owner = await api.register("dpatch")
    design = await create_design(client, owner, vpc_canvas())
    r = await client.get(f"/api/v1/designs/{design['id']}", headers=owner.headers)
    etag = r.headers["etag"]
    r = await client.patch(
        f"/api/v1/designs/{design['id']}",
        json={"status": "active", "description": "prod network"},
        headers={**owner.headers, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["description"]) == ("active", "prod network")
    assert r.headers["etag"] != etag
    # The PATCH response is the new representation: its ETag is what a read now returns.
    fresh = await client.get(
        f"/api/v1/designs/{design['id']}", headers={**owner.headers, "If-None-Match": r.headers["etag"]}
    )
    assert fresh.status_code == 304
    stale = await client.patch(
        f"/api/v1/designs/{design['id']}",
        json={"status": "archived"},
        headers={**owner.headers, "If-Match": etag},
    )
    assert_problem(stale, 412)
    assert (await client.get(f"/api/v1/designs/{design['id']}", headers=owner.headers)).json()[
        "status"
    ] == "active"
    assert_problem(
        await client.patch(f"/api/v1/designs/{design['id']}", json={"status": "nope"}, headers=owner.headers),
        422,
        "status",
    )
    assert_problem(
        await client.patch(f"/api/v1/designs/{design['id']}", json={"canvas": {}}, headers=owner.headers), 422
    )


async def test_other_tenant_sees_404_and_viewer_gets_403(client, api):
    owner = await api.register("dten")
    stranger = await api.register("dten2")
    viewer = await api.register("dten3")
    await api.add_member(owner, viewer, "viewer")
    design = await create_design(client, owner, vpc_canvas())
    path = f"/api/v1/designs/{design['id']}"
    for method, url, body in [
        ("GET", path, None),
        ("PATCH", path, {"name": "x"}),
        ("DELETE", path, None),
        ("GET", f"{path}/versions", None),
        ("GET", f"{path}/versions/1", None),
        ("POST", f"{path}/versions", {"canvas": vpc_canvas(), "base_version": 1}),
        ("GET", f"{path}/diff?from=0&to=1", None),
        ("GET", f"{path}/comments", None),
        ("GET", f"{path}/shares", None),
    ]:
        r = await client.request(method, url, json=body, headers=stranger.headers)
        assert_problem(r, 404)
    assert_problem(await client.get(f"/api/v1/orgs/{owner.org_slug}/designs", headers=stranger.headers), 404)
    seen = await client.get(path, headers=viewer.headers)
    assert seen.status_code == 200 and seen.json() == design
    assert_problem(await save(client, viewer, design["id"], vpc_canvas(3), base=1), 403)
    assert_problem(await client.delete(path, headers=viewer.headers), 403)
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/designs", json={"name": "v"}, headers=viewer.headers
    )
    assert_problem(r, 403)


async def test_api_key_scopes_apply(client, api):
    owner = await api.register("dkey")
    design = await create_design(client, owner, vpc_canvas())
    read_key = await api.api_key(owner, ["design:read"])
    headers = {"Authorization": f"Bearer {read_key}"}
    read = await client.get(f"/api/v1/designs/{design['id']}", headers=headers)
    assert read.status_code == 200 and read.json() == design
    assert_problem(
        await client.post(
            f"/api/v1/designs/{design['id']}/versions",
            json={"canvas": vpc_canvas(3), "base_version": 1},
            headers=headers,
        ),
        403,
    )


async def test_malformed_canvases_are_422_naming_the_element_and_store_nothing(client, api):
    owner = await api.register("dbad")
    design = await create_design(client, owner, vpc_canvas())
    cases = [
        ({"nodes": [node("a"), node("a")], "edges": []}, "canvas.nodes[1].id"),
        ({"nodes": [node("a")], "edges": [{"source": "a", "target": "ghost"}]}, "canvas.edges[0].target"),
        ({"nodes": [{**node("a"), "parent": "ghost"}], "edges": []}, "canvas.nodes[0].parent"),
        (
            {"nodes": [{**node("a"), "parent": "b"}, {**node("b"), "parent": "a"}], "edges": []},
            "canvas.nodes[0].parent",
        ),
        ({"nodes": [{**node("a"), "id": ""}], "edges": []}, "canvas.nodes[0].id"),
        ({"nodes": [{**node("a"), "name": "x" * 500}], "edges": []}, "canvas.nodes[0].name"),
        ({"nodes": [{**node("a"), "type": 7}], "edges": []}, "canvas.nodes[0].type"),
        ({"nodes": [{**node("a"), "colour": "red"}], "edges": []}, "canvas.nodes[0].colour"),
        ({"nodes": [node("a")], "edges": [{"source": "a"}]}, "canvas.edges[0].target"),
    ]
    for canvas, field in cases:
        assert_problem(await save(client, owner, design["id"], canvas, base=1), 422, field)
        r = await client.post(
            f"/api/v1/orgs/{owner.org_slug}/designs",
            json={"name": f"bad-{uuid.uuid4().hex[:6]}", "canvas": canvas},
            headers=owner.headers,
        )
        assert_problem(r, 422, field)
    r = await client.post(
        f"/api/v1/designs/{design['id']}/versions",
        content=b'{"canvas": {"nodes": [',
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert_problem(r, 400)
    assert_problem(
        await client.post(f"/api/v1/designs/{design['id']}/versions", json=[1], headers=owner.headers), 422
    )
    versions = (await client.get(f"/api/v1/designs/{design['id']}/versions", headers=owner.headers)).json()[
        "items"
    ]
    assert [v["number"] for v in versions] == [1]
    listed = (await client.get(f"/api/v1/orgs/{owner.org_slug}/designs", headers=owner.headers)).json()[
        "items"
    ]
    assert [d["id"] for d in listed] == [design["id"]]


async def test_nul_in_node_ids_types_and_names_is_422_naming_the_field(client, api):
    """They are stored as database text (the resources table); PostgreSQL refuses U+0000 there."""
    owner = await api.register("dnul")
    design = await create_design(client, owner, vpc_canvas())
    for field in ("id", "type", "name"):
        bad = node("n", "terraform_data", "n") | {
            field: {"id": "n", "type": "terraform_data", "name": "n"}[field] + "\x00"
        }
        r = await save(client, owner, design["id"], {"nodes": [bad], "edges": []}, base=1)
        assert "NUL" in assert_problem(r, 422, f"canvas.nodes[0].{field}")["errors"][0]["message"]


async def test_oversize_canvases_are_413(client, api):
    owner = await api.register("dbig")
    design = await create_design(client, owner, vpc_canvas())
    too_many = big_canvas(20_001)
    r = await save(client, owner, design["id"], too_many, base=1)
    body = assert_problem(r, 413, "canvas.nodes")
    assert body["max_nodes"] == 20_000 and "BOARD3_MAX_NODES" in body["detail"]
    assert "BOARD3_MAX_NODES" in body["errors"][0]["message"]
    huge = {"nodes": [node("a", "terraform_data", "a", blob="x" * (6 * 1024 * 1024))], "edges": []}
    assert_problem(await save(client, owner, design["id"], huge, base=1), 413)
    versions = (await client.get(f"/api/v1/designs/{design['id']}/versions", headers=owner.headers)).json()[
        "items"
    ]
    assert [v["number"] for v in versions] == [1]


async def test_mutations_are_audited(client, api):
    owner = await api.register("daudit")
    design = await create_design(client, owner, vpc_canvas())
    await save(client, owner, design["id"], vpc_canvas(3), base=1)
    await client.patch(f"/api/v1/designs/{design['id']}", json={"status": "active"}, headers=owner.headers)
    await client.delete(f"/api/v1/designs/{design['id']}", headers=owner.headers)
    r = await client.get(
        f"/api/v1/orgs/{owner.org_slug}/audit-logs", params={"object_id": design["id"]}, headers=owner.headers
    )
    actions = [e["action"] for e in r.json()["items"]]
    assert sorted(actions) == sorted(
        ["design.create", "design.version.create", "design.update", "design.delete"]
    )


async def test_resources_follow_the_current_version(client, api):
    owner = await api.register("dres")
    stranger = await api.register("dres2")
    design = await create_design(client, owner, vpc_canvas(2))
    canvas = vpc_canvas(3)
    canvas["nodes"].append(node("bucket", "aws_s3_bucket", "logs", bucket="logs"))
    canvas["nodes"].append(node("thing", "acme_widget", "w"))
    canvas["nodes"] = [n for n in canvas["nodes"] if n["id"] != "subnet-0"]
    canvas["edges"] = [e for e in canvas["edges"] if e["source"] != "subnet-0"]
    assert (await save(client, owner, design["id"], canvas, base=1)).status_code == 201
    url = f"/api/v1/orgs/{owner.org_slug}/resources"
    items = (await client.get(url, params={"limit": 200}, headers=owner.headers)).json()["items"]
    assert sorted(i["node_id"] for i in items) == ["bucket", "subnet-1", "subnet-2", "thing", "vpc"]
    by_id = {i["node_id"]: i for i in items}
    assert by_id["bucket"]["provider"] == "aws" and by_id["bucket"]["properties"] == {"bucket": "logs"}
    assert by_id["thing"]["provider"] == "acme"
    assert by_id["vpc"]["design_name"] == design["name"]
    buckets = (await client.get(url, params={"type": "aws_s3_bucket"}, headers=owner.headers)).json()["items"]
    assert [b["node_id"] for b in buckets] == ["bucket"]
    assert_problem(await client.get(url, headers=stranger.headers), 404)
    await client.delete(f"/api/v1/designs/{design['id']}", headers=owner.headers)
    assert (await client.get(url, headers=owner.headers)).json()["items"] == []


def test_design_routes_resolve_their_dependencies_one_at_a_time(app) -> None:
    """``provide_design_deps`` names ``principal`` only to put the two dependencies in sequence:
    two independent ones make Litestar start an anyio task group for every request (about a tenth
    of a cached design read). Every route that takes ``deps`` must keep them in batches of one."""
    from litestar.routes import HTTPRoute

    checked = 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, kwargs_model in route.route_handler_map.values():
            names = {d.key for batch in kwargs_model.dependency_batches for d in batch}
            if "deps" not in names:
                continue
            checked += 1
            sizes = [len(batch) for batch in kwargs_model.dependency_batches]
            assert max(sizes) == 1, f"{handler} resolves dependencies in parallel: {sizes}"
    assert checked >= 10  # the design routes were found
