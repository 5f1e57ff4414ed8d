"""GET /api/v1/designs/{id}/diagram.svg: one box per node, highlights, escaping, caching, access."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.designs.helpers import save
from tests.support.api import assert_problem
from tests.terraform.design_support import data_node, design_with, invalid_canvas, offline_canvas, share

SVG_NS = "{http://www.w3.org/2000/svg}"


def url(design_id: str, query: str = "") -> str:
    return f"/api/v1/designs/{design_id}/diagram.svg" + (f"?{query}" if query else "")


def boxes(svg: bytes) -> dict[str, str]:
    """node id -> class of its group, for every node box (leaf or container)."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    out: dict[str, str] = {}
    for g in root.iter(f"{SVG_NS}g"):
        node_id = g.get("data-node-id")
        if node_id is not None:
            assert node_id not in out, f"two boxes for {node_id}"
            out[node_id] = g.get("class", "")
    return out


async def test_one_box_per_node_and_highlights(client, api):
    owner = await api.register("diag")
    canvas = offline_canvas(10)
    design_id = await design_with(client, owner, canvas)
    r = await client.get(url(design_id), headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/svg+xml"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-design-version"] == "1"
    found = boxes(r.content)
    assert set(found) == {n["id"] for n in canvas["nodes"]}
    assert not any("highlight" in cls for cls in found.values())

    r = await client.get(
        url(design_id, "highlight=d0,hostile,no-such-node&highlight=out-last"), headers=owner.headers
    )
    assert r.status_code == 200
    found = boxes(r.content)
    assert {nid for nid, cls in found.items() if "highlight" in cls.split()} == {"d0", "hostile", "out-last"}


async def test_saved_positions_and_routed_edges(client, api):
    owner = await api.register("diagp")
    canvas = {
        "nodes": [
            {**data_node("a"), "position": {"x": 0, "y": 0}},
            {**data_node("b"), "position": {"x": 800, "y": 0}},
            {**data_node("between"), "position": {"x": 400, "y": 0}},
            {**data_node("c"), "position": {"x": 0, "y": 400}},
            data_node("free"),
        ],
        "edges": [{"source": "b", "target": "a", "attribute": "depends_on"}],
    }
    design_id = await design_with(client, owner, canvas)
    r = await client.get(url(design_id), headers=owner.headers)
    assert r.status_code == 200, r.text
    root = ET.fromstring(r.content)
    rects = {
        e.get("data-node-id"): (float(e.get("x", 0)), float(e.get("y", 0)), float(e.get("width", 0)))
        for e in root.iter(f"{SVG_NS}rect")
        if e.get("data-node-id")
    }
    assert rects["a"][0] < rects["between"][0] < rects["b"][0]  # the canvas order, kept
    assert rects["a"][1] == rects["b"][1] < rects["c"][1]
    [edge] = [p for p in root.iter(f"{SVG_NS}path") if p.get("data-source") == "b"]
    assert edge.get("data-target") == "a"
    ys = {float(v) for v in edge.get("d", "").split()[2::3]}  # M x y L x y ...: every y
    assert ys != {rects["a"][1] + 24}  # not straight through "between": it goes around


async def test_versions_etag_and_invalid_designs(client, api):
    owner = await api.register("diagv")
    design_id = await design_with(client, owner, offline_canvas(6))
    assert (await save(client, owner, design_id, invalid_canvas(), base=1)).status_code == 201
    current = await client.get(url(design_id), headers=owner.headers)
    assert current.status_code == 200  # invalid designs are drawn too
    assert set(boxes(current.content)) == {n["id"] for n in invalid_canvas()["nodes"]}
    first = await client.get(url(design_id, "version=1"), headers=owner.headers)
    assert set(boxes(first.content)) == {n["id"] for n in offline_canvas(6)["nodes"]}
    assert first.headers["etag"] != current.headers["etag"]
    again = await client.get(url(design_id, "version=1"), headers=owner.headers)
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    r = await client.get(
        url(design_id, "version=1"), headers={**owner.headers, "If-None-Match": first.headers["etag"]}
    )
    assert r.status_code == 304 and r.content == b""
    assert_problem(await client.get(url(design_id, "version=7"), headers=owner.headers), 404)
    assert_problem(await client.get(url(design_id, "version=zero"), headers=owner.headers), 400)


async def test_hostile_names_are_escaped(client, api):
    owner = await api.register("diagx")
    hostile = '<script>alert("x")</script>&\'"'
    canvas = {
        "nodes": [
            data_node("<script>", hostile, input=hostile),
            {**data_node("child", "]]><svg onload=alert(1)>"), "parent": "<script>"},
            {"id": "x", "type": "</text><script>alert(2)</script>", "name": "n"},
        ],
        "edges": [{"source": "child", "target": "x", "attribute": '"><script>'}],
    }
    design_id = await design_with(client, owner, canvas)
    r = await client.get(url(design_id, "highlight=<script>"), headers=owner.headers)
    assert r.status_code == 200, r.text
    assert b"<script" not in r.content and b"<svg onload" not in r.content
    root = ET.fromstring(r.content)
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    assert not [e for e in root.iter() if any(k.startswith("on") for k in e.attrib)]
    found = boxes(r.content)
    assert set(found) == {"<script>", "child", "x"}
    assert "highlight" in found["<script>"].split()
    titles = [t.text or "" for t in root.iter(f"{SVG_NS}title")]
    assert f"terraform_data.{hostile}" in titles  # the full text survives, as text


async def test_access(client, api):
    owner = await api.register("diaga")
    other = await api.register("diaga2")
    guest = await api.register("diagg")
    design_id = await design_with(client, owner, offline_canvas(4))
    assert_problem(await client.get(url(design_id), headers=other.headers), 404)
    assert_problem(await client.get(url(design_id), headers=guest.headers), 404)
    await share(client, owner, design_id, guest, "view")
    r = await client.get(url(design_id), headers=guest.headers)
    assert r.status_code == 200 and set(boxes(r.content)) == {n["id"] for n in offline_canvas(4)["nodes"]}
    empty = await design_with(client, owner, None)
    r = await client.get(url(empty), headers=owner.headers)
    assert r.status_code == 200 and boxes(r.content) == {}
