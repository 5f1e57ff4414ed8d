"""Import a Terraform state file (format version 4) as a canvas.

Managed resources of the root module become nodes; their attributes become properties, keeping
only what the catalog lists as settable (computed attributes, nulls, empty collections and
sensitive values are left out: secrets never move into designs). ``dependencies`` become edges:
when a catalog rule explains the dependency (the subnet's ``vpc_id`` equals the VPC's ``id``) the
edge sets that property and the literal is dropped; otherwise it is a ``depends_on`` edge.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.designs.canvas import Canvas, Edge, Node, Position
from app.lib.errors import FieldError, ValidationFailed
from app.terraform.catalog import Catalog, NodeType
from app.terraform.graph import NodeInfo
from app.terraform.hcl_import import ImportResult, _assign_parents
from app.terraform.layout import layout

_INDEX = re.compile(r"\[(.*)\]$")


def import_state(state: bytes | str | dict[str, Any], catalog: Catalog) -> ImportResult:
    """Turn a state document into a canvas (raises ValidationFailed with field ``state``)."""
    doc = _load(state)
    warnings: list[str] = []
    nodes: list[Node] = []
    raw: dict[str, tuple[Node, dict[str, Any], list[str]]] = {}
    skipped_modules = 0
    for res in _list(doc.get("resources")):
        if not isinstance(res, dict) or res.get("mode") != "managed":
            continue
        if res.get("module"):
            skipped_modules += 1
            continue
        rtype, rname = str(res.get("type", "")), str(res.get("name", ""))
        instances = [i for i in _list(res.get("instances")) if isinstance(i, dict)]
        for inst in instances:
            key = inst.get("index_key")
            name = rname if key is None else _identifier(f"{rname}_{key}")
            address = f"{rtype}.{rname}" + ("" if key is None else f"[{json.dumps(key)}]")
            found = inst.get("attributes")
            attrs: dict[str, Any] = found if isinstance(found, dict) else {}
            ntype = catalog.get(rtype)
            node = Node(
                id=f"{rtype}.{name}"[:128], type=rtype, name=name, properties=_properties(attrs, ntype, inst)
            )
            if ntype is None:
                warnings.append(
                    f"{address}: type {rtype} is not in the catalog; its attributes were not kept"
                )
            nodes.append(node)
            deps = [d for d in _list(inst.get("dependencies")) if isinstance(d, str)]
            raw[address] = (node, attrs, deps)
            if key is not None and f"{rtype}.{rname}" not in raw:
                raw[f"{rtype}.{rname}"] = (node, attrs, deps)
    if skipped_modules:
        warnings.append(f"{skipped_modules} resource(s) inside modules were skipped")
    edges = _edges(raw, catalog)
    infos = [
        NodeInfo(i, n, "resource", f"{n.type}.{n.name}", catalog.get(n.type)) for i, n in enumerate(nodes)
    ]
    _assign_parents(infos, edges, catalog)
    canvas = Canvas(nodes=nodes, edges=edges)
    rects = layout(canvas)
    for node in nodes:
        node.position = Position(x=rects[node.id].x, y=rects[node.id].y)
    return ImportResult(canvas, warnings)


def _load(state: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(state, dict):
        doc: Any = state
    else:
        try:
            doc = json.loads(state)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise ValidationFailed(
                "the state file is not valid JSON", errors=[FieldError("state", str(exc)[:300])]
            ) from None
    if not isinstance(doc, dict) or doc.get("version") != 4:
        raise ValidationFailed(
            "not a Terraform state file (format version 4)",
            errors=[FieldError("state.version", "expected 4")],
        )
    return doc


def _list(value: Any) -> list[Any]:
    """A list from the document, or nothing: a hand-edited state may hold any JSON anywhere."""
    return value if isinstance(value, list) else []


def _identifier(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", text)
    return name if re.match(r"^[A-Za-z_]", name) else f"r_{name}"


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _clean(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in out.items() if v not in ([], {})}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _properties(attrs: dict[str, Any], ntype: NodeType | None, inst: dict[str, Any]) -> dict[str, Any]:
    if ntype is None:
        return {}
    sensitive = {
        str(p[0].get("value"))
        for p in _list(inst.get("sensitive_attributes"))
        if isinstance(p, list) and p and isinstance(p[0], dict)
    }
    props: dict[str, Any] = {}
    for name, spec in ntype.spec.properties.items():
        value = attrs.get(name)
        if value is None or value in ([], {}) or spec.sensitive or name in sensitive:
            continue
        if name in ntype.spec.attributes:
            continue
        props[name] = _clean(value)
    return props


def _edges(raw: dict[str, tuple[Node, dict[str, Any], list[str]]], catalog: Catalog) -> list[Edge]:
    edges: set[tuple[str, str, str]] = set()
    for address, (node, _attrs, deps) in raw.items():
        if _INDEX.search(address) is None and any(a.startswith(address + "[") for a in raw):
            continue  # alias of the first instance
        for dep in deps:
            target = raw.get(dep)
            if target is None or target[0] is node:
                continue
            tnode, tattrs, _ = target
            edges.add((node.id, tnode.id, _explain(node, tnode, tattrs, catalog)))
    return [Edge(source=s, target=t, attribute=a) for s, t, a in sorted(edges)]


def _explain(node: Node, target: Node, target_attrs: dict[str, Any], catalog: Catalog) -> str:
    """The property a rule sets for this dependency (dropping the literal), else ``depends_on``."""
    for rule in catalog.rules_between(node.type, target.type):
        if "." in rule.property:
            continue
        wanted = target_attrs.get(rule.attribute)
        value = node.properties.get(rule.property)
        if wanted is None or value is None:
            continue
        if rule.is_list and isinstance(value, list) and wanted in value:
            rest = [v for v in value if v != wanted]
            if rest:
                node.properties[rule.property] = rest
            else:
                del node.properties[rule.property]
            return rule.property
        if not rule.is_list and value == wanted:
            del node.properties[rule.property]
            return rule.property
    return "depends_on"
