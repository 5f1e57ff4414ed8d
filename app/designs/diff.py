"""Graph diff between two canvases. Pure: canvases in, a ``CanvasDiff`` out.

Nodes are matched by id. A node in both canvases is "changed" when its type, name, parent,
position or any top-level property differs; each aspect is reported separately, properties one
entry per key with the old and new value. Edges are compared as a multiset of
``(source, target, attribute)``. Output order is deterministic (sorted by id / edge key).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec

from app.designs.schemas import CanvasDiff, NodeChange, NodeSnapshot, PropertyChange, ValueChange
from app.terraform.canvas import Canvas, Edge, Node


def _snapshot(node: Node) -> NodeSnapshot:
    return NodeSnapshot(
        id=node.id,
        type=node.type,
        name=node.name,
        properties=node.properties,
        position=node.position,
        parent=node.parent,
    )


def _same(a: Any, b: Any) -> bool:
    """JSON equality: ``1``, ``1.0`` and ``true`` are equal in Python but not in JSON, so compare the
    canonical encodings (which also keeps arbitrarily deep values off the Python stack)."""
    return _encode(a) == _encode(b)


def _encode(value: Any) -> bytes:
    return msgspec.json.encode(value, order="sorted")


def _property_changes(old: dict[str, Any], new: dict[str, Any]) -> list[PropertyChange]:
    changes: list[PropertyChange] = []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            changes.append(PropertyChange(key=key, change="removed", old=old[key]))
        elif key not in old:
            changes.append(PropertyChange(key=key, change="added", new=new[key]))
        elif not _same(old[key], new[key]):
            changes.append(PropertyChange(key=key, change="changed", old=old[key], new=new[key]))
    return changes


def _position(node: Node) -> dict[str, float] | None:
    return None if node.position is None else {"x": node.position.x, "y": node.position.y}


def node_change(old: Node, new: Node) -> NodeChange | None:
    """What changed in one node (``None`` when nothing did)."""
    change = NodeChange(id=new.id, properties=_property_changes(old.properties, new.properties))
    if old.type != new.type:
        change.type = ValueChange(old=old.type, new=new.type)
    if old.name != new.name:
        change.name = ValueChange(old=old.name, new=new.name)
    if old.parent != new.parent:
        change.parent = ValueChange(old=old.parent, new=new.parent)
    if not _same(_position(old), _position(new)):
        change.position = ValueChange(old=_position(old), new=_position(new))
    if change.properties or change.type or change.name or change.parent or change.position:
        return change
    return None


def _edge_key(edge: Edge) -> tuple[str, str, str | None]:
    return (edge.source, edge.target, edge.attribute)


def _sort_key(key: tuple[str, str, str | None]) -> tuple[str, str, int, str]:
    return (key[0], key[1], 0 if key[2] is None else 1, key[2] or "")


def _edges(keys: Counter[tuple[str, str, str | None]]) -> list[Edge]:
    out: list[Edge] = []
    for key in sorted(keys, key=_sort_key):
        out.extend(Edge(source=key[0], target=key[1], attribute=key[2]) for _ in range(keys[key]))
    return out


def diff(old: Canvas, new: Canvas) -> CanvasDiff:
    """The changes that turn ``old`` into ``new``. ``diff(a, a)`` is empty."""
    before = {n.id: n for n in old.nodes}
    after = {n.id: n for n in new.nodes}
    added = [_snapshot(after[i]) for i in sorted(after.keys() - before.keys())]
    removed = [_snapshot(before[i]) for i in sorted(before.keys() - after.keys())]
    changed: list[NodeChange] = []
    for node_id in sorted(before.keys() & after.keys()):
        change = node_change(before[node_id], after[node_id])
        if change is not None:
            changed.append(change)
    old_edges = Counter(_edge_key(e) for e in old.edges)
    new_edges = Counter(_edge_key(e) for e in new.edges)
    return CanvasDiff(
        nodes_added=added,
        nodes_removed=removed,
        nodes_changed=changed,
        edges_added=_edges(new_edges - old_edges),
        edges_removed=_edges(old_edges - new_edges),
    )
