"""What importing files and importing a state share: the result, node ids, parents, positions.

Pure: both importers build nodes and edges their own way, then :func:`finish_canvas` sets each
node's parent from the catalog's containment rules (a subnet inside its VPC) and its position from
the layered layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.terraform.canvas import Canvas, Edge, Node, Position
from app.terraform.catalog import Catalog
from app.terraform.layout import layout

MAX_ID_BASE = 120  # node ids are at most 128 characters, with room for a "~<n>" suffix


@dataclass(slots=True)
class ImportResult:
    """The imported canvas and notes about what could not be represented (e.g. ``locals``)."""

    canvas: Canvas
    warnings: list[str] = field(default_factory=list)


def unique_id(address: str, used: set[str]) -> str:
    """A node id from a Terraform address, ``~2``, ``~3``... appended when it is taken."""
    base = address[:MAX_ID_BASE]
    nid, n = base, 2
    while nid in used:
        nid, n = f"{base}~{n}", n + 1
    used.add(nid)
    return nid


def finish_canvas(nodes: list[Node], edges: list[Edge], catalog: Catalog) -> Canvas:
    """The canvas of an import: parents from containment rules (loops cut), positions from the layout."""
    _assign_parents(nodes, edges, catalog)
    canvas = Canvas(nodes=nodes, edges=edges)
    rects = layout(canvas)
    for node in nodes:
        r = rects.get(node.id)
        if r is not None:
            node.position = Position(x=r.x, y=r.y)
    return canvas


def _assign_parents(nodes: list[Node], edges: list[Edge], catalog: Catalog) -> None:
    by_id = {n.id: n for n in nodes}
    out: dict[str, list[Edge]] = {}
    for e in edges:
        out.setdefault(e.source, []).append(e)
    for node in nodes:
        ntype = catalog.get(node.type)
        if ntype is None:
            continue
        for rule in ntype.spec.references:
            if not rule.contains:
                continue
            for e in out.get(node.id, []):
                target = by_id.get(e.target)
                if e.attribute == rule.property and target is not None and target.type in rule.targets:
                    node.parent = target.id
                    break
            if node.parent is not None:
                break
    _break_parent_loops(nodes, by_id)


def _break_parent_loops(nodes: list[Node], by_id: dict[str, Node]) -> None:
    for node in nodes:
        seen = {node.id}
        cur = node.parent
        while cur is not None:
            if cur in seen:
                node.parent = None
                break
            seen.add(cur)
            cur = by_id[cur].parent if cur in by_id else None
