"""Accepting drift into a design: the canvas in which drifted arguments take their real values.

Pure: a canvas, a check's drifted resources and the resource catalog in; the new canvas and an
account of what was and was not taken out. Only arguments (the catalog's ``properties``) are set;
computed attributes stay the provider's business. A value the design cannot hold as a literal is
left alone and said why: a sensitive value (Board3 only ever saw it masked), a property another
node sets through an edge or that holds an expression. A resource deleted outside Terraform loses
its node only when asked; otherwise the next apply creates it again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from app.drift.schemas import AcceptedValue, AttributeDrift, NotAccepted, ResourceDrift
from app.terraform.canvas import Canvas, Node
from app.terraform.catalog import Catalog
from app.terraform.plan import SENSITIVE, UNKNOWN
from app.terraform.validate import analyze

MISSING: Any = object()


@dataclass(slots=True)
class Accepted:
    canvas: Canvas
    accepted: list[AcceptedValue] = field(default_factory=list)
    removed_nodes: list[str] = field(default_factory=list)
    not_accepted: list[NotAccepted] = field(default_factory=list)


def _holds_expression(value: Any) -> bool:
    if isinstance(value, Mapping):
        return "$expr" in value or any(_holds_expression(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_expression(v) for v in value)
    return False


def _opaque(value: Any) -> bool:
    """A masked or unknown part: not a value the design could hold."""
    if isinstance(value, str):
        return value in (SENSITIVE, UNKNOWN)
    if isinstance(value, Mapping):
        return any(_opaque(v) for v in value.values())
    if isinstance(value, list):
        return any(_opaque(v) for v in value)
    return False


def _literal(value: Any) -> Any:
    """Terraform's value as canvas properties write it: unset (null) parts of objects left out."""
    if isinstance(value, Mapping):
        return {k: _literal(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_literal(v) for v in value]
    return value


def _edge_properties(canvas: Canvas, catalog: Catalog) -> dict[str, set[str]]:
    """Node id -> the top-level properties its outgoing edges set (``subnet_ids``, ``vpc_id``)."""
    out: dict[str, set[str]] = {}
    for edge in analyze(canvas, catalog).edges:
        if edge.prop and edge.mode in ("property", "list", "expression"):
            out.setdefault(edge.source.node.id, set()).add(edge.prop.split(".", 1)[0])
    return out


def _why_not(
    node: Node, attribute: AttributeDrift, catalog: Catalog, set_by_edges: Collection[str]
) -> str | None:
    known = catalog.get(node.type)
    if known is None:
        return f"{node.type} is not in the resource catalog"
    spec = known.spec.properties.get(attribute.name)
    if spec is None:
        if attribute.name in known.spec.attributes or known.spec.complete:
            return "computed by the provider, not an argument of the design"
        return f"not a known argument of {node.type}"
    if attribute.sensitive or spec.sensitive or _opaque(attribute.after):
        return "sensitive: Board3 only sees it masked; set it in the design yourself"
    if attribute.name in set_by_edges:
        return "set by an edge to another node; change the edge instead"
    if _holds_expression(node.properties.get(attribute.name)):
        return "set by an expression in the design"
    return None


def _not(resource: ResourceDrift, attribute: str | None, reason: str) -> NotAccepted:
    return NotAccepted(address=resource.address, attribute=attribute, reason=reason)


def accept(
    canvas: Canvas,
    resources: Sequence[ResourceDrift],
    catalog: Catalog,
    *,
    remove_deleted: bool = False,
) -> Accepted:
    """``canvas`` with ``resources``' drift taken in (the caller picks which resources)."""
    nodes = {n.id: msgspec.structs.replace(n, properties=dict(n.properties)) for n in canvas.nodes}
    set_by_edges = _edge_properties(canvas, catalog)
    out = Accepted(canvas)
    removed: set[str] = set()
    for resource in resources:
        node = nodes.get(resource.node_id) if resource.node_id else None
        if resource.module_address:
            out.not_accepted.append(
                _not(resource, None, f"inside {resource.module_address}: change the module's inputs instead")
            )
            continue
        if node is None:
            out.not_accepted.append(_not(resource, None, "no node of the current design version draws it"))
            continue
        if node.type != resource.type or resource.index is not None:
            out.not_accepted.append(_not(resource, None, f"node {node.id!r} no longer draws this resource"))
            continue
        if resource.action == "delete":
            if remove_deleted:
                removed.add(node.id)
            else:
                out.not_accepted.append(
                    _not(
                        resource,
                        None,
                        "deleted outside Terraform: the next apply creates it again "
                        "(accept with remove_deleted to take it off the design)",
                    )
                )
            continue
        for attribute in resource.attributes:
            reason = _why_not(node, attribute, catalog, set_by_edges.get(node.id, ()))
            if reason is not None:
                out.not_accepted.append(_not(resource, attribute.name, reason))
                continue
            value = _literal(attribute.after)
            current = node.properties.get(attribute.name, MISSING)
            if (current is MISSING and value is None) or (current is not MISSING and current == value):
                continue  # the design says so already
            if value is None:
                node.properties.pop(attribute.name, None)
            else:
                node.properties[attribute.name] = value
            out.accepted.append(
                AcceptedValue(
                    address=resource.address,
                    node_id=node.id,
                    attribute=attribute.name,
                    design_value=None if current is MISSING else current,
                    value=value,
                )
            )
    kept = []
    for node in (nodes[n.id] for n in canvas.nodes):
        if node.id in removed:
            continue
        parent = node.parent
        while parent is not None and parent in removed:  # drawn around by a removed node
            parent = nodes[parent].parent if parent in nodes else None
        kept.append(msgspec.structs.replace(node, parent=parent) if parent != node.parent else node)
    edges = [e for e in canvas.edges if e.source not in removed and e.target not in removed]
    out.canvas = Canvas(nodes=kept, edges=edges)
    out.removed_nodes = sorted(removed)
    return out
