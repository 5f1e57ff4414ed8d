"""The canvas document: msgspec Structs for its structure, structural checks, canonical form.

Pure: no I/O. Structural validation lives here (ids unique, edges and parents point at existing
nodes, bounded sizes); semantic validation (resource types, required properties, cycles) lives in
``app.terraform``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

NodeId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, examples=["vpc-1"])]
NodeType = Annotated[
    str, msgspec.Meta(min_length=1, max_length=128, examples=["aws_vpc", "data.aws_ami", "variable"])
]
NodeName = Annotated[str, msgspec.Meta(min_length=1, max_length=128, examples=["main"])]
AttributeName = Annotated[str, msgspec.Meta(min_length=1, max_length=128, examples=["vpc_id"])]


class Position(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Where the node sits on the canvas (free-form coordinates)."""

    x: float
    y: float


class Node(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One box on the canvas: a resource, data source, module, variable or output."""

    id: NodeId
    type: NodeType
    name: NodeName
    properties: dict[str, Any] = msgspec.field(default_factory=dict)
    position: Position | None = None
    parent: NodeId | None = None


class Edge(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """``source -> target``: the source refers to (depends on) the target."""

    source: NodeId
    target: NodeId
    attribute: AttributeName | None = None


class Canvas(msgspec.Struct, forbid_unknown_fields=True):
    """A design's graph as drawn."""

    nodes: list[Node] = msgspec.field(default_factory=list)
    edges: list[Edge] = msgspec.field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CanvasLimits:
    max_nodes: int = 20_000
    max_edges: int = 60_000


@dataclass(frozen=True, slots=True)
class CanvasProblem:
    """A structural problem, with the JSON path of the offending element (``canvas.nodes[3].id``)."""

    field: str
    message: str
    code: str | None = None  # the validation problem code when the field path does not tell it


_TEXT_FIELDS = {"nodes": ("id", "type", "name"), "edges": ("attribute",)}


def _nul_problems(canvas: Canvas, prefix: str) -> list[CanvasProblem]:
    """Names and ids are stored as database text, which cannot hold U+0000."""
    problems = []
    for kind, items in (("nodes", canvas.nodes), ("edges", canvas.edges)):
        for i, item in enumerate(items):
            for name in _TEXT_FIELDS[kind]:
                value = getattr(item, name)
                if value is not None and "\x00" in value:
                    problems.append(
                        CanvasProblem(
                            f"{prefix}.{kind}[{i}].{name}",
                            "must not contain NUL characters (U+0000)",
                            code="invalid-text",
                        )
                    )
    return problems


def check_structure(canvas: Canvas, limits: CanvasLimits, prefix: str = "canvas") -> list[CanvasProblem]:
    """Return every structural problem of ``canvas`` (empty list when it is well formed)."""
    problems: list[CanvasProblem] = []
    if len(canvas.nodes) > limits.max_nodes:
        problems.append(
            CanvasProblem(f"{prefix}.nodes", f"too many nodes: {len(canvas.nodes)} > {limits.max_nodes}")
        )
    if len(canvas.edges) > limits.max_edges:
        problems.append(
            CanvasProblem(f"{prefix}.edges", f"too many edges: {len(canvas.edges)} > {limits.max_edges}")
        )
    if problems:
        return problems
    problems.extend(_nul_problems(canvas, prefix))
    ids: set[str] = set()
    for i, node in enumerate(canvas.nodes):
        if node.id in ids:
            problems.append(CanvasProblem(f"{prefix}.nodes[{i}].id", f"duplicate node id {node.id!r}"))
        ids.add(node.id)
    for i, node in enumerate(canvas.nodes):
        if node.parent is not None:
            if node.parent not in ids:
                problems.append(
                    CanvasProblem(
                        f"{prefix}.nodes[{i}].parent",
                        f"node {node.id!r} has parent {node.parent!r}, which is not a node of this canvas",
                    )
                )
            elif node.parent == node.id:
                problems.append(
                    CanvasProblem(f"{prefix}.nodes[{i}].parent", f"node {node.id!r} is its own parent")
                )
    problems.extend(_parent_cycles(canvas, prefix))
    for i, edge in enumerate(canvas.edges):
        for end in ("source", "target"):
            ref = getattr(edge, end)
            if ref not in ids:
                problems.append(
                    CanvasProblem(
                        f"{prefix}.edges[{i}].{end}",
                        f"edge {edge.source!r} -> {edge.target!r}: "
                        f"{end} {ref!r} is not a node of this canvas",
                    )
                )
    return problems


def _parent_cycles(canvas: Canvas, prefix: str) -> list[CanvasProblem]:
    parent = {n.id: n.parent for n in canvas.nodes if n.parent is not None and n.parent != n.id}
    index = {n.id: i for i, n in enumerate(canvas.nodes)}
    reported: set[str] = set()
    problems: list[CanvasProblem] = []
    for start in parent:
        seen: list[str] = []
        cur: str | None = start
        while cur is not None and cur in parent and cur not in seen:
            seen.append(cur)
            cur = parent.get(cur)
        if cur is not None and cur in seen:
            loop = seen[seen.index(cur) :]
            key = min(loop)
            if key not in reported:
                reported.add(key)
                problems.append(
                    CanvasProblem(
                        f"{prefix}.nodes[{index[key]}].parent",
                        "parents form a loop: " + " -> ".join([*loop, loop[0]]),
                    )
                )
    return problems


def canonical(canvas: Canvas) -> Canvas:
    """The canonical form: nodes ordered by id, edges by (source, target, attribute)."""
    return Canvas(
        nodes=sorted(canvas.nodes, key=lambda n: n.id),
        edges=sorted(canvas.edges, key=lambda e: (e.source, e.target, e.attribute or "")),
    )


def canonical_bytes(canvas: Canvas) -> bytes:
    """Deterministic JSON of the canonical canvas (object keys sorted)."""
    return msgspec.json.encode(canonical(canvas), order="sorted")


def decode_canvas(data: bytes | str) -> Canvas:
    """Decode JSON into a Canvas (raises ``msgspec.ValidationError``/``DecodeError``)."""
    return msgspec.json.decode(data, type=Canvas)
