"""POST /api/v1/designs/{id}/validate: stored versions, unsaved canvases, who may ask."""

from __future__ import annotations

from tests.designs.helpers import big_canvas, save
from tests.support.api import assert_problem
from tests.terraform.design_support import design_with, invalid_canvas, offline_canvas, share


def url(design_id: str) -> str:
    return f"/api/v1/designs/{design_id}/validate"


async def test_valid_and_invalid_versions(client, api):
    owner = await api.register("val")
    design_id = await design_with(client, owner, offline_canvas())
    r = await client.post(url(design_id), headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"valid": True, "problems": [], "design_id": design_id, "version": 1}

    assert (await save(client, owner, design_id, invalid_canvas(), base=1)).status_code == 201
    r = await client.post(url(design_id), headers=owner.headers)
    body = r.json()
    assert r.status_code == 200 and body["valid"] is False and body["version"] == 2
    by_code = {p["code"]: p for p in body["problems"]}
    assert set(by_code) == {"unknown-type", "invalid-name", "missing-required-property", "cycle"}
    assert by_code["unknown-type"]["node"] == "bogus"
    assert by_code["invalid-name"]["node"] == "bad-name"
    assert by_code["missing-required-property"]["node"] == "sub"
    assert "vpc_id" in by_code["missing-required-property"]["message"]
    assert by_code["cycle"]["message"] == (
        "dependency cycle: terraform_data.a -> terraform_data.b -> terraform_data.c -> terraform_data.a"
    )
    assert all("edge" not in p for p in body["problems"])  # node problems carry no edge index

    # An older version is validated as it was stored.
    r = await client.post(url(design_id) + "?version=1", headers=owner.headers)
    assert r.json()["valid"] is True and r.json()["version"] == 1
    assert_problem(await client.post(url(design_id) + "?version=3", headers=owner.headers), 404)
    assert_problem(await client.post(url(design_id) + "?version=0", headers=owner.headers), 400)
    assert_problem(await client.post(url(design_id) + "?version=x", headers=owner.headers), 400)


async def test_edge_problems_name_the_edge_index(client, api):
    owner = await api.register("valedge")
    canvas = {
        "nodes": [
            {"id": "vpc", "type": "aws_vpc", "name": "main"},
            {"id": "b", "type": "aws_s3_bucket", "name": "b"},
        ],
        "edges": [{"source": "vpc", "target": "b", "attribute": "no_such_property"}],
    }
    design_id = await design_with(client, owner, canvas)
    body = (await client.post(url(design_id), headers=owner.headers)).json()
    assert body["valid"] is False
    assert [p["edge"] for p in body["problems"] if "edge" in p] == [0]


async def test_a_design_without_versions_is_valid(client, api):
    owner = await api.register("valempty")
    design_id = await design_with(client, owner, None)
    r = await client.post(url(design_id), headers=owner.headers)
    assert r.json() == {"valid": True, "problems": [], "design_id": design_id, "version": 0}


async def test_unsaved_canvas_in_the_body(client, api):
    owner = await api.register("valbody")
    design_id = await design_with(client, owner, offline_canvas())
    r = await client.post(url(design_id), json={"canvas": invalid_canvas()}, headers=owner.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] is None and body["valid"] is False
    assert {p["code"] for p in body["problems"]} >= {"cycle", "unknown-type"}
    # Nothing was saved: the design still validates as version 1.
    r = await client.post(url(design_id), headers=owner.headers)
    assert r.json()["valid"] is True and r.json()["version"] == 1

    # Checked like a save: malformed canvases are 422 naming the element, oversize ones 413.
    dangling = {
        "nodes": [{"id": "a", "type": "terraform_data", "name": "a"}],
        "edges": [{"source": "a", "target": "zz"}],
    }
    r = await client.post(url(design_id), json={"canvas": dangling}, headers=owner.headers)
    assert_problem(r, 422, "canvas.edges[0].target")
    r = await client.post(url(design_id), json={"canvas": {"nodes": [{"id": ""}]}}, headers=owner.headers)
    assert_problem(r, 422)
    r = await client.post(url(design_id), json={"canvas": big_canvas(20_001)}, headers=owner.headers)
    assert_problem(r, 413, "canvas.nodes")
    r = await client.post(url(design_id), json={"canvas": {}, "extra": 1}, headers=owner.headers)
    assert_problem(r, 422, "extra")
    r = await client.post(
        url(design_id) + "?version=1", json={"canvas": offline_canvas()}, headers=owner.headers
    )
    assert_problem(r, 400, "query.version")
    r = await client.post(
        url(design_id), content=b"{not json", headers={**owner.headers, "Content-Type": "application/json"}
    )
    assert_problem(r, 400)


async def test_tenants_shares_and_strangers(client, api):
    owner = await api.register("valten")
    other = await api.register("valten2")
    guest = await api.register("valguest")
    design_id = await design_with(client, owner, offline_canvas())
    assert_problem(await client.post(url(design_id), headers=other.headers), 404)
    assert_problem(await client.post(url(design_id), headers=guest.headers), 404)
    await share(client, owner, design_id, guest, "view")
    r = await client.post(url(design_id), headers=guest.headers)
    assert r.status_code == 200 and r.json()["valid"] is True
    # An API key of another organization sees nothing either.
    key = await api.api_key(other, scopes=["design:read"])
    assert_problem(await client.post(url(design_id), headers={"Authorization": f"Bearer {key}"}), 404)
    # The owner's own read-only key may validate.
    own_key = await api.api_key(owner, scopes=["design:read"])
    r = await client.post(url(design_id), headers={"Authorization": f"Bearer {own_key}"})
    assert r.status_code == 200
    assert_problem(await client.post(url("00000000-0000-0000-0000-000000000000"), headers=owner.headers), 404)
    assert_problem(await client.post(url("not-a-uuid"), headers=owner.headers), 404)
    assert (await client.post(url(design_id))).status_code == 401
