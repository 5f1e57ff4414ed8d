"""The graph diff is exact: random edits to a canvas come back as exactly those edits."""

from __future__ import annotations

import random
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.designs.diff import diff
from app.terraform.canvas import Canvas, Edge, Node, Position

TYPES = ["aws_vpc", "aws_subnet", "aws_instance", "terraform_data", "data.aws_ami", "variable", "output"]
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
properties = st.dictionaries(
    st.sampled_from(["cidr_block", "tags", "ami", "count", "name", "input"]), json_values
)


@st.composite
def canvases(draw: Any) -> Canvas:
    count = draw(st.integers(0, 12))
    ids = [f"n{i}" for i in range(count)]
    nodes = []
    for i, node_id in enumerate(ids):
        position = draw(st.none() | st.builds(Position, x=st.integers(-500, 500), y=st.integers(-500, 500)))
        parent = draw(st.none() | st.sampled_from(ids[:i])) if i else None  # parents come first: no loops
        nodes.append(
            Node(
                id=node_id,
                type=draw(st.sampled_from(TYPES)),
                name=draw(st.text("abcxyz_", min_size=1, max_size=6)),
                properties=draw(properties),
                position=position,
                parent=parent,
            )
        )
    edges: set[tuple[str, str, str | None]] = set()
    if ids:
        for _ in range(draw(st.integers(0, 15))):
            edges.add(
                (
                    draw(st.sampled_from(ids)),
                    draw(st.sampled_from(ids)),
                    draw(st.none() | st.sampled_from(["id", "vpc_id"])),
                )
            )
    return Canvas(
        nodes=nodes, edges=[Edge(source=s, target=t, attribute=a) for s, t, a in sorted(edges, key=str)]
    )


def builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


def apply_random_edits(canvas: Canvas, rnd: random.Random) -> tuple[Canvas, dict[str, Any]]:
    """Edit a copy of ``canvas`` at random; return it with the diff those edits must produce."""
    nodes = {n.id: msgspec.structs.replace(n, properties=dict(n.properties)) for n in canvas.nodes}
    expected: dict[str, Any] = {
        "added": set(),
        "removed": set(),
        "changed": {},
        "edges_added": [],
        "edges_removed": [],
    }
    for node_id in list(nodes):
        roll = rnd.random()
        if roll < 0.15:
            del nodes[node_id]
            expected["removed"].add(node_id)
            continue
        if roll > 0.6:
            continue
        node, old = nodes[node_id], canvas.nodes[[n.id for n in canvas.nodes].index(node_id)]
        change: dict[str, Any] = {"properties": {}}
        if rnd.random() < 0.3:
            node.type = rnd.choice([t for t in TYPES if t != old.type])
            change["type"] = {"old": old.type, "new": node.type}
        if rnd.random() < 0.3:
            node.name = old.name + "_renamed"
            change["name"] = {"old": old.name, "new": node.name}
        if rnd.random() < 0.3:
            node.parent = None if old.parent is not None else "somewhere-else"
            change["parent"] = {"old": old.parent, "new": node.parent}
        if rnd.random() < 0.3:
            node.position = Position(x=(old.position.x if old.position else 0) + 1, y=7)
            change["position"] = {
                "old": builtins(old.position),
                "new": builtins(node.position),
            }
        for key in list(node.properties):
            if rnd.random() < 0.3:
                change["properties"][key] = {"key": key, "change": "removed", "old": node.properties.pop(key)}
            elif rnd.random() < 0.3:
                new_value = {"edited": node.properties[key]}
                change["properties"][key] = {
                    "key": key,
                    "change": "changed",
                    "old": node.properties[key],
                    "new": new_value,
                }
                node.properties[key] = new_value
        if rnd.random() < 0.3 and "added_key" not in node.properties:
            node.properties["added_key"] = [1, "two"]
            change["properties"]["added_key"] = {"key": "added_key", "change": "added", "new": [1, "two"]}
        if len(change) > 1 or change["properties"]:
            expected["changed"][node_id] = change
    for i in range(rnd.randint(0, 3)):
        new_id = f"new{i}"
        nodes[new_id] = Node(id=new_id, type="aws_s3_bucket", name=f"b{i}", properties={"bucket": f"b-{i}"})
        expected["added"].add(new_id)
    edges = []
    for edge in canvas.edges:
        if rnd.random() < 0.25:
            expected["edges_removed"].append(builtins(edge))
        else:
            edges.append(edge)
    if nodes and rnd.random() < 0.7:
        ids = sorted(nodes)
        new_edge = Edge(source=rnd.choice(ids), target=rnd.choice(ids), attribute="added_attr")
        edges.append(new_edge)
        expected["edges_added"].append(builtins(new_edge))
    node_list = list(nodes.values())
    rnd.shuffle(node_list)  # order must not matter
    return Canvas(nodes=node_list, edges=edges), expected


def normalized(result: Any) -> dict[str, Any]:
    data = builtins(result)
    changed = {}
    for change in data["nodes_changed"]:
        entry = {k: v for k, v in change.items() if k not in ("id", "properties") and v is not None}
        entry["properties"] = {p["key"]: p for p in change.get("properties", [])}
        changed[change["id"]] = entry
    return {
        "added": {n["id"] for n in data["nodes_added"]},
        "removed": {n["id"] for n in data["nodes_removed"]},
        "changed": changed,
        "edges_added": sorted(data["edges_added"], key=str),
        "edges_removed": sorted(data["edges_removed"], key=str),
    }


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(canvas=canvases(), seed=st.integers(0, 2**32))
def test_diff_reports_exactly_the_edits(canvas: Canvas, seed: int) -> None:
    edited, expected = apply_random_edits(canvas, random.Random(seed))
    expected["edges_added"] = sorted(expected["edges_added"], key=str)
    expected["edges_removed"] = sorted(expected["edges_removed"], key=str)
    assert normalized(diff(canvas, edited)) == expected


@settings(max_examples=100, deadline=None)
@given(canvas=canvases(), seed=st.integers(0, 2**32))
def test_diff_of_a_canvas_with_itself_is_empty(canvas: Canvas, seed: int) -> None:
    shuffled = Canvas(nodes=list(canvas.nodes), edges=list(canvas.edges))
    random.Random(seed).shuffle(shuffled.nodes)
    random.Random(seed).shuffle(shuffled.edges)
    assert diff(canvas, canvas).empty
    assert diff(canvas, shuffled).empty


@settings(max_examples=100, deadline=None)
@given(a=canvases(), b=canvases())
def test_diff_is_antisymmetric(a: Canvas, b: Canvas) -> None:
    forward, backward = diff(a, b), diff(b, a)
    assert {n.id for n in forward.nodes_added} == {n.id for n in backward.nodes_removed}
    assert builtins(forward.edges_added) == builtins(backward.edges_removed)
    assert [c.id for c in forward.nodes_changed] == [c.id for c in backward.nodes_changed]


def test_json_types_are_not_conflated() -> None:
    """1, 1.0 and true are different JSON values; a type change of a property is a change."""
    old = Canvas(nodes=[Node(id="a", type="t", name="a", properties={"x": 1, "y": True, "z": [1]})])
    new = Canvas(nodes=[Node(id="a", type="t", name="a", properties={"x": 1.0, "y": 1, "z": [1]})])
    (change,) = diff(old, new).nodes_changed
    assert [(p.key, p.old, p.new) for p in change.properties] == [("x", 1, 1.0), ("y", True, 1)]


def test_duplicate_edges_count_as_a_multiset() -> None:
    nodes = [Node(id="a", type="t", name="a"), Node(id="b", type="t", name="b")]
    once = Canvas(nodes=nodes, edges=[Edge(source="a", target="b")])
    twice = Canvas(nodes=nodes, edges=[Edge(source="a", target="b"), Edge(source="a", target="b")])
    assert [(e.source, e.target) for e in diff(once, twice).edges_added] == [("a", "b")]
    assert diff(twice, once).edges_removed and not diff(twice, once).edges_added
