"""The SVG diagram: boxes where the canvas put them (else layered), children inside parents, edges
routed around boxes, drift marks and their legend, escaping, determinism."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from itertools import combinations, pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.terraform.canvas import Canvas, Edge, Node, Position
from app.terraform.diagram import render_svg
from app.terraform.layout import Rect, effective_parents
from app.terraform.routing import Router
from app.terraform.samples import aws_design

SVG = "{http://www.w3.org/2000/svg}"
Point = tuple[float, float]


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


# -- helpers ---------------------------------------------------------------------------------------


def routes(svg: str) -> list[tuple[str, str, list[Point]]]:
    """(source, target, points) of every edge drawn."""
    out = []
    for path in ET.fromstring(svg).iter(f"{SVG}path"):
        if path.get("data-source") is None:
            continue
        d = path.get("d", "")
        assert re.fullmatch(r"M [-\d.]+ [-\d.]+( L [-\d.]+ [-\d.]+)+", d), d
        numbers = [float(v) for v in re.findall(r"-?[\d.]+", d)]
        points = list(zip(numbers[::2], numbers[1::2], strict=True))
        out.append((path.get("data-source", ""), path.get("data-target", ""), points))
    return out


def crosses(p: Point, q: Point, r: Rect, slack: float = 0.5) -> bool:
    """The segment p-q runs through the inside of ``r`` (``slack`` absorbs the SVG's rounding)."""
    ax, bx = sorted((p[0], q[0]))
    ay, by = sorted((p[1], q[1]))
    return ax < r.x + r.w - slack and bx > r.x + slack and ay < r.y + r.h - slack and by > r.y + slack


def on_border(p: Point, r: Rect, slack: float = 0.15) -> bool:
    inside_x = r.x - slack <= p[0] <= r.x + r.w + slack
    inside_y = r.y - slack <= p[1] <= r.y + r.h + slack
    on_x = abs(p[0] - r.x) <= slack or abs(p[0] - r.x - r.w) <= slack
    on_y = abs(p[1] - r.y) <= slack or abs(p[1] - r.y - r.h) <= slack
    return inside_x and inside_y and (on_x or on_y)


def check_routes(canvas: Canvas, svg: str) -> None:
    """Every edge is drawn with horizontal and vertical segments from the border of its source to the
    border of its target, through no box but those two and the boxes around them."""
    rects = boxes(svg)
    anc = ancestors(canvas)
    drawn = routes(svg)
    expected = {
        (e.source, e.target)
        for e in canvas.edges
        if e.source in rects
        and e.target in rects
        and e.source != e.target
        and e.source not in anc[e.target]
        and e.target not in anc[e.source]
    }
    assert {(s, t) for s, t, _ in drawn} == expected
    for source, target, points in drawn:
        assert on_border(points[0], rects[source]), (source, points[0], rects[source])
        assert on_border(points[-1], rects[target]), (target, points[-1], rects[target])
        allowed = {source, target} | anc[source] | anc[target]
        for p, q in pairwise(points):
            assert p[0] == q[0] or p[1] == q[1], (source, target, points)  # orthogonal
            for nid, r in rects.items():
                if nid not in allowed:
                    assert not crosses(p, q, r), f"{source}->{target} crosses {nid}: {p} {q} {r}"


def check_boxes(canvas: Canvas, rects: dict[str, Rect]) -> None:
    anc = ancestors(canvas)
    for a, b in combinations(rects, 2):
        if b in anc[a]:
            assert rects[b].contains(rects[a]), (b, a)
        elif a in anc[b]:
            assert rects[a].contains(rects[b]), (a, b)
        else:
            assert not rects[a].intersects(rects[b]), (a, b)


def drift_marks(svg: str) -> tuple[dict[str, str], list[str] | None]:
    """node id -> drift mark drawn, and the kinds the legend explains (None: no legend)."""
    root = ET.fromstring(svg)
    marks = {
        g.get("data-node-id", ""): g.get("data-drift", "")
        for g in root.iter(f"{SVG}g")
        if g.get("data-node-id") is not None and g.get("data-drift") is not None
    }
    legends = [g for g in root.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert len(legends) <= 1
    if not legends:
        return marks, None
    return marks, [
        e.get("data-drift", "") for e in legends[0].iter(f"{SVG}g") if e.get("class") == "legend-entry"
    ]


# -- canvases for the properties ------------------------------------------------------------------

TYPES = ["aws_vpc", "aws_subnet", "aws_instance", "aws_db_instance", "output", "variable", "module.label"]


@st.composite
def canvases(draw: st.DrawFn, max_nodes: int = 12) -> Canvas:
    n = draw(st.integers(1, max_nodes))
    ids = [f"n{i}" for i in range(n)]
    coordinate = st.integers(-20, 60).map(lambda v: v * 25.0)  # collisions and near-collisions
    nodes = []
    for i, nid in enumerate(ids):
        parent = draw(st.one_of(st.none(), st.sampled_from(ids))) if draw(st.booleans()) else None
        position = draw(st.one_of(st.none(), st.builds(Position, x=coordinate, y=coordinate)))
        name = draw(st.sampled_from(["a", "web", "a_much_longer_name_for_a_box", f"x{i}"]))
        nodes.append(
            Node(id=nid, type=draw(st.sampled_from(TYPES)), name=name, parent=parent, position=position)
        )
    pairs = st.tuples(st.sampled_from(ids), st.sampled_from(ids))
    edges = [
        Edge(source=a, target=b, attribute=draw(st.sampled_from([None, "depends_on"])))
        for a, b in draw(st.lists(pairs, max_size=2 * n))
    ]
    return Canvas(nodes=nodes, edges=edges)


# -- properties -----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(canvases())
def test_boxes_never_overlap_and_edges_go_around_boxes(catalog, canvas):
    svg = render_svg(canvas, catalog)
    rects = boxes(svg)
    assert set(rects) == {n.id for n in canvas.nodes}
    check_boxes(canvas, rects)
    check_routes(canvas, svg)


@settings(max_examples=200, deadline=None)
@given(canvases())
def test_positioned_siblings_keep_their_order_on_both_axes(catalog, canvas):
    rects = boxes(render_svg(canvas, catalog))
    parent = effective_parents(canvas)
    placed = [n for n in canvas.nodes if n.position is not None]
    for a, b in combinations(placed, 2):
        if parent[a.id] != parent[b.id]:
            continue
        assert a.position is not None and b.position is not None
        for axis in ("x", "y"):
            pa, pb = getattr(a.position, axis), getattr(b.position, axis)
            ra, rb = getattr(rects[a.id], axis), getattr(rects[b.id], axis)
            if pa < pb:
                assert ra < rb, (axis, a.id, b.id)
            elif pb < pa:
                assert rb < ra, (axis, a.id, b.id)


@settings(max_examples=100, deadline=None)
@given(canvases(), st.data())
def test_same_input_same_bytes(catalog, canvas, data):
    drift = data.draw(
        st.dictionaries(
            st.sampled_from([n.id for n in canvas.nodes]), st.sampled_from(["changed", "deleted"])
        )
    )
    first = render_svg(canvas, catalog, highlight={canvas.nodes[0].id}, drift=drift)
    again = render_svg(
        Canvas(nodes=list(canvas.nodes), edges=list(canvas.edges)),
        catalog,
        highlight={canvas.nodes[0].id},
        drift=dict(drift),
    )
    assert first == again


@settings(max_examples=150, deadline=None)
@given(canvases(), st.data())
def test_drift_marks_and_legend_exactly_when_drifted(catalog, canvas, data):
    ids = [n.id for n in canvas.nodes]
    drift = data.draw(
        st.one_of(
            st.none(),
            st.dictionaries(
                st.sampled_from([*ids, "not-a-node"]),
                st.sampled_from(["changed", "deleted", "update", "delete", "bogus"]),
            ),
        )
    )
    svg = render_svg(canvas, catalog, drift=drift)
    expected = {
        nid: {"update": "changed", "delete": "deleted"}.get(kind, kind)
        for nid, kind in (drift or {}).items()
        if nid in ids and kind != "bogus"
    }
    marks, legend = drift_marks(svg)
    assert marks == expected
    if expected:
        assert legend == [k for k in ("changed", "deleted") if k in expected.values()]
    else:
        assert legend is None
    check_boxes(canvas, boxes(svg))  # the legend is no box, and overlaps none


# -- examples -------------------------------------------------------------------------------------


_RENDER = """
import hashlib
from app.terraform.canvas import Canvas, Node, Position
from app.terraform.catalog import load_catalog
from app.terraform.diagram import render_svg
from app.terraform.samples import aws_design
c = aws_design(150)
nodes = [
    Node(id=n.id, type=n.type, name=n.name, parent=n.parent,
         position=Position(x=(i * 37) % 900, y=(i * 53) % 700) if i % 3 == 0 else None)
    for i, n in enumerate(c.nodes)
]
svg = render_svg(Canvas(nodes=nodes, edges=c.edges), load_catalog(None), drift={"db-0": "changed"})
print(hashlib.sha256(svg.encode()).hexdigest())
"""


def test_same_bytes_in_every_process():
    """Server workers must agree on a diagram's ETag, whatever their hash seed."""
    root = Path(__file__).resolve().parents[2]
    digests = {
        subprocess.run(
            [sys.executable, "-c", _RENDER],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1


@pytest.mark.parametrize("make", [lambda: aws_design(24), lambda: aws_design(120)])
def test_sample_designs_route_every_edge_around_boxes(catalog, make):
    """The stack's output edge used to be drawn straight through the database box."""
    canvas = make()
    check_routes(canvas, render_svg(canvas, catalog))


def test_the_last_resort_search_goes_around_too():
    """A* is only reached when simpler shapes and line probes fail, so exercise it directly."""
    rects = {
        "s": Rect(300, 200, 60, 40),
        "t": Rect(40, 200, 60, 40),
        "wall": Rect(180, 40, 40, 360),  # between them, taller than both
        "lid": Rect(120, 140, 300, 30),  # above the source
    }
    parent: dict[str, str | None] = dict.fromkeys(rects)
    router = Router(rects, parent, 480, 460)
    src, dst = router.boxes.rects[0], router.boxes.rects[1]
    points = router._search(src, dst, frozenset())
    assert points is not None
    assert on_border(points[0], rects["s"]) and on_border(points[-1], rects["t"])
    for p, q in pairwise(points):
        assert p[0] == q[0] or p[1] == q[1]
        assert not any(crosses(p, q, r) for nid, r in rects.items() if nid not in ("s", "t"))


def test_canvas_positions_are_honoured_and_the_rest_placed_beside(catalog):
    def at(nid: str, x: float, y: float, parent: str | None = None) -> Node:
        return Node(id=nid, type="aws_instance", name=nid, position=Position(x=x, y=y), parent=parent)

    canvas = Canvas(
        nodes=[
            at("left", 0, 0),
            at("right", 600, 0),
            at("below", 0, 300),
            Node(id="net", type="aws_vpc", name="net", position=Position(x=600, y=300)),
            at("in-b", 300, 100, "net"),
            at("in-a", 100, 100, "net"),
            Node(id="free1", type="aws_s3_bucket", name="free1"),
            Node(id="free2", type="aws_s3_bucket", name="free2"),
        ],
        edges=[Edge(source="free1", target="left"), Edge(source="in-a", target="below")],
    )
    svg = render_svg(canvas, catalog)
    r = boxes(svg)
    check_boxes(canvas, r)
    check_routes(canvas, svg)
    assert r["left"].y == r["right"].y and r["left"].x + 400 <= r["right"].x  # kept (in pixels, here)
    assert r["left"].x == r["below"].x and r["below"].y > r["left"].y
    assert r["net"].x > r["below"].x and r["net"].y > r["right"].y
    assert r["net"].contains(r["in-a"]) and r["net"].contains(r["in-b"])
    assert r["in-a"].x < r["in-b"].x and r["in-a"].y == r["in-b"].y
    placed = [r[k] for k in ("left", "right", "below", "net")]
    for free in ("free1", "free2"):  # laid out beside the placed boxes, not on them
        assert not any(r[free].intersects(p) for p in placed)


@pytest.mark.parametrize("make", [three_nodes, lambda: aws_design(120)])
def test_positions_taken_from_the_layout_draw_the_same_picture(catalog, make):
    """Import stores the layout's coordinates as positions; drawing them again changes nothing."""
    canvas = make()
    before = render_svg(canvas, catalog)
    rects = boxes(before)
    placed = Canvas(
        nodes=[
            Node(
                id=n.id,
                type=n.type,
                name=n.name,
                parent=n.parent,
                position=Position(x=rects[n.id].x, y=rects[n.id].y),
            )
            for n in canvas.nodes
        ],
        edges=canvas.edges,
    )
    assert boxes(render_svg(placed, catalog)) == rects


def test_grid_unit_positions_are_spread_out(catalog):
    canvas = Canvas(
        nodes=[
            Node(id=f"g{i}", type="aws_instance", name=f"g{i}", position=Position(x=i % 3, y=i // 3))
            for i in range(9)
        ]
    )
    r = boxes(render_svg(canvas, catalog))
    check_boxes(canvas, r)
    assert [round(r[f"g{i}"].y) for i in (0, 1, 2)] == [round(r["g0"].y)] * 3  # rows stay rows
    assert r["g3"].y > r["g0"].y + r["g0"].h  # rows do not overlap


def test_drift_marks_read_without_colour(catalog):
    canvas = Canvas(
        nodes=[
            Node(id="vpc", type="aws_vpc", name="main"),
            Node(id="sn", type="aws_subnet", name="a", parent="vpc"),
            Node(id="vm", type="aws_instance", name="web", parent="sn"),
            Node(id="mod", type="module.label", name="naming"),
        ],
        edges=[Edge(source="sn", target="vpc"), Edge(source="vm", target="mod")],
    )
    svg = render_svg(canvas, catalog, drift={"vm": "changed", "sn": "deleted", "mod": "deleted"})
    root = ET.fromstring(svg)
    groups = {g.get("data-node-id"): g for g in root.iter(f"{SVG}g") if g.get("data-node-id")}
    changed, deleted_leaf, deleted_container = groups["vm"], groups["mod"], groups["sn"]
    assert changed.get("class") == "node drift-changed"
    assert deleted_container.get("class") == "container drift-deleted"
    assert groups["vpc"].get("data-drift") is None

    def box(g: ET.Element) -> ET.Element:
        return next(r for r in g.iter(f"{SVG}rect") if r.get("data-node-id"))

    def tags(g: ET.Element) -> list[str]:
        return ["".join(t.itertext()) for t in g.iter(f"{SVG}g") if t.get("class") == "drift-tag"]

    # shapes and words, not colour alone: dashed vs dotted border, hatching and a cross, a tag
    assert box(changed).get("stroke-dasharray") != box(deleted_leaf).get("stroke-dasharray")
    assert box(changed).get("stroke-dasharray") and box(deleted_leaf).get("stroke-dasharray")
    assert box(deleted_leaf).get("fill") == box(deleted_container).get("fill") == "url(#hatch)"
    assert len(list(deleted_leaf.iter(f"{SVG}line"))) >= 2
    assert tags(changed) == ["drifted"] and tags(deleted_leaf) == tags(deleted_container) == ["deleted"]
    assert root.find(f".//{SVG}pattern[@id='hatch']") is not None
    _, legend = drift_marks(svg)
    assert legend == ["changed", "deleted"]
    text = "".join(root.itertext())
    assert "changed outside Terraform" in text and "deleted outside Terraform" in text
    assert 'href="http' not in svg and "url(http" not in svg  # nothing external


def test_no_legend_without_drift(catalog):
    canvas = three_nodes()
    plain = render_svg(canvas, catalog)
    assert render_svg(canvas, catalog, drift={}) == plain
    assert render_svg(canvas, catalog, drift={"elsewhere": "changed", "vm": "moved"}) == plain
    assert drift_marks(plain) == ({}, None)
    highlighted = render_svg(canvas, catalog, highlight={"vm"}, drift={"vm": "changed"})
    groups = {g.get("data-node-id"): g.get("class") for g in ET.fromstring(highlighted).iter(f"{SVG}g")}
    assert groups["vm"] == "node highlight drift-changed"
