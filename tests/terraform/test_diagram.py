from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import combinations

import pytest

from app.terraform.canvas import Canvas, Edge, Node
from app.terraform.diagram import render_svg
from app.terraform.layout import Rect, effective_parents
from app.terraform.samples import aws_design

SVG = "{http://www.w3.org/2000/svg}"


def three_nodes() -> Canvas:
    return Canvas(
        nodes=[
            Node(id="vpc", type="aws_vpc", name="main"),
            Node(id="sn", type="aws_subnet", name="a", parent="vpc"),
            Node(id="vm", type="aws_instance", name="web", parent="sn"),
        ],
        edges=[Edge(source="sn", target="vpc"), Edge(source="vm", target="sn")],
    )


def boxes(svg: str) -> dict[str, Rect]:
    root = ET.fromstring(svg)
    return {
        r.get("data-node-id"): Rect(
            float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height"))
        )
        for r in root.iter(f"{SVG}rect")
        if r.get("data-node-id")
    }


def ancestors(canvas: Canvas) -> dict[str, set[str]]:
    parent = effective_parents(canvas)
    out = {}
    for nid in parent:
        seen, cur = set(), parent[nid]
        while cur is not None:
            seen.add(cur)
            cur = parent[cur]
        out[nid] = seen
    return out


@pytest.mark.parametrize("make", [three_nodes, lambda: aws_design(40), lambda: aws_design(300)])
def test_node_boxes_never_overlap_except_parents_around_children(catalog, make):
    canvas = make()
    rects = boxes(render_svg(canvas, catalog))
    assert set(rects) == {n.id for n in canvas.nodes}
    anc = ancestors(canvas)
    for a, b in combinations(rects, 2):
        if b in anc[a]:
            assert rects[b].contains(rects[a]), (b, a)
        elif a in anc[b]:
            assert rects[a].contains(rects[b]), (a, b)
        else:
            assert not rects[a].intersects(rects[b]), (a, b)


def test_layers_run_left_to_right_and_edges_are_arrows(catalog):
    canvas = aws_design(30)
    svg = render_svg(canvas, catalog)
    rects = boxes(svg)
    assert rects["listener-0"].x > rects["lb-0"].x > rects["vpc-0"].x  # dependents right of dependencies
    root = ET.fromstring(svg)
    paths = [p for p in root.iter(f"{SVG}path") if p.get("marker-end")]
    assert len(paths) > 20
    labels = "".join(root.itertext())
    assert "aws_lb_listener" in labels and "http_0" in labels


def test_highlighted_nodes_are_drawn_distinctly(catalog):
    root = ET.fromstring(render_svg(three_nodes(), catalog, highlight={"vm"}))
    groups = {g.get("data-node-id"): g.get("class") for g in root.iter(f"{SVG}g") if g.get("data-node-id")}
    assert groups["vm"] == "node highlight"
    assert "highlight" not in groups["sn"]


def test_hostile_labels_cannot_inject_markup(catalog):
    evil = "</text><script>alert(1)</script>\x00\x1b\"&'" + "x" * 500
    canvas = Canvas(nodes=[Node(id=evil[:128], type="aws_s3_bucket", name=evil[:128])])
    svg = render_svg(canvas, catalog)
    root = ET.fromstring(svg)  # still well-formed XML
    assert not list(root.iter(f"{SVG}script"))
    assert "<script>" not in svg
