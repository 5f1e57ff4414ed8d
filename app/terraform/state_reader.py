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
from dataclasses import dataclass
from typing import Any

from app.lib.errors import FieldError, ValidationFailed
from app.terraform.canvas import Edge, Node
from app.terraform.canvas_builder import ImportResult, finish_canvas, unique_id
from app.terraform.catalog import Catalog
from app.terraform.catalog_types import NodeType


def import_state(state: bytes | str | dict[str, Any], catalog: Catalog) -> ImportResult:
    """Turn a state document into a canvas (raises ValidationFailed with field ``state``)."""
    doc = _load(state)
    warnings: list[str] = []
    instances: list[_Instance] = []
    by_address: dict[str, _Instance] = {}  # "type.name[key]", and "type.name" for the first instance
    used_ids: set[str] = set()
    taken: set[tuple[str, str]] = set()
    skipped_modules = 0
    for res in _list(doc.get("resources")):
        if not isinstance(res, dict) or res.get("mode") != "managed":
            continue
        if res.get("module"):
            skipped_modules += 1
            continue
        rtype, rname = str(res.get("type", "")), str(res.get("name", ""))
        ntype = catalog.get(rtype)
        for inst in _list(res.get("instances")):
            if not isinstance(inst, dict):
                continue
            key = inst.get("index_key")
            address = f"{rtype}.{rname}" + ("" if key is None else f"[{json.dumps(key)}]")
            wanted = rname if key is None else _identifier(f"{rname}_{key}")
            name = _unique_name(rtype, wanted, taken)
            if name != wanted:
                warnings.append(f"{address}: named {name}, since another {rtype} is named {wanted}")
            found = inst.get("attributes")
            attrs: dict[str, Any] = found if isinstance(found, dict) else {}
            node = Node(
                id=unique_id(f"{rtype}.{name}", used_ids),
                type=rtype,
                name=name,
                properties=_properties(attrs, ntype, inst),
            )
            if ntype is None:
                warnings.append(
                    f"{address}: type {rtype} is not in the catalog; its attributes were not kept"
                )
            deps = [d for d in _list(inst.get("dependencies")) if isinstance(d, str)]
            instance = _Instance(node, attrs, deps)
            instances.append(instance)
            by_address[address] = instance
            by_address.setdefault(f"{rtype}.{rname}", instance)
    if skipped_modules:
        warnings.append(f"{skipped_modules} resource(s) inside modules were skipped")
    edges = _edges(instances, by_address, catalog)
    return ImportResult(finish_canvas([i.node for i in instances], edges, catalog), warnings)


@dataclass(frozen=True, slots=True)
class _Instance:
    node: Node
    attributes: dict[str, Any]
    dependencies: list[str]


def _unique_name(rtype: str, name: str, taken: set[tuple[str, str]]) -> str:
    """``name``, or ``name_2``, ``name_3``... when the type already has it (``a[0]`` next to ``a_0``)."""
    candidate, n = name, 2
    while (rtype, candidate) in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add((rtype, candidate))
    return candidate


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


def _edges(instances: list[_Instance], by_address: dict[str, _Instance], catalog: Catalog) -> list[Edge]:
    edges: set[tuple[str, str, str]] = set()
    for inst in instances:
        for dep in inst.dependencies:
            target = by_address.get(dep)
            if target is None or target is inst:
                continue
            edges.add(
                (inst.node.id, target.node.id, _explain(inst.node, target.node, target.attributes, catalog))
            )
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
