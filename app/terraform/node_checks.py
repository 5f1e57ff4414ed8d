"""Checks of single nodes (resources, data sources, modules, variables, outputs) and the problem
collector they report into; ``app.terraform.validate`` runs them over a whole design."""

import math
import re
from typing import Any

from app.terraform.catalog_types import PropertySpec
from app.terraform.graph import EdgeInfo, NodeInfo, label_of
from app.terraform.hclsyntax import contains_expr, is_expr, is_identifier
from app.terraform.results import Problem
from app.terraform.types import TypeError_, check_value, parse_type, value_depth_exceeds

MAX_PROBLEMS = 1000
MAX_VALUE_DEPTH = 32
META_ARGUMENTS = frozenset(
    {"count", "for_each", "provider", "provisioner", "connection", "lifecycle", "depends_on", "dynamic"}
)
# What would make terraform start programs on the machine that runs it (a Board3 worker): refused
# whatever the catalog says. Provisioners (``local-exec``, ``remote-exec``, ...) and their
# ``connection`` are meta-arguments, refused above; these node types run a program by design.
RUNS_PROGRAMS_PROVIDERS = frozenset({"external"})
RUNS_PROGRAMS_TYPES = frozenset({"data.external"})
RESERVED_VARIABLE_NAMES = frozenset(
    {"source", "version", "providers", "count", "for_each", "lifecycle", "depends_on", "locals"}
)
VARIABLE_PROPERTIES = {
    "type": "string",
    "default": "any",
    "description": "string",
    "sensitive": "bool",
    "nullable": "bool",
}
OUTPUT_PROPERTIES = {"value": "any", "description": "string", "sensitive": "bool"}
INDEX_RE = re.compile(r"\[(\d+)\]")


class Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.truncated = False

    def add(self, code: str, message: str, *, node: str | None = None, edge: int | None = None) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.truncated = True
            return
        self.problems.append(Problem(node=node, edge=edge, code=code, message=message))

    def finish(self) -> list[Problem]:
        if self.truncated:
            self.problems.append(
                Problem(
                    code="too-many-problems", message=f"only the first {MAX_PROBLEMS} problems are listed"
                )
            )
        return self.problems


def check_resource(out: Collector, info: NodeInfo, set_by_edges: dict[str, list[EdgeInfo]]) -> None:
    assert info.ntype is not None
    spec = info.ntype.spec
    node = info.node
    label = label_of(node)
    if info.ntype.provider in RUNS_PROGRAMS_PROVIDERS or info.ntype.type in RUNS_PROGRAMS_TYPES:
        out.add(
            "runs-programs",
            f"{label}: {node.type} runs a program on the machine that runs terraform and is not allowed",
            node=node.id,
        )
    for name, value in node.properties.items():
        if not is_identifier(name):
            out.add("invalid-property-name", f"{label}: {name!r} is not a valid property name", node=node.id)
            continue
        if name in ("provisioner", "connection"):
            out.add(
                "runs-programs",
                f"{label}: {name!r} would run programs on the machine that runs terraform; "
                "provisioners are not allowed",
                node=node.id,
            )
            continue
        if name in META_ARGUMENTS:
            hint = " (draw an edge instead)" if name == "depends_on" else ""
            out.add(
                "reserved-property", f"{label}: {name!r} is a Terraform meta-argument{hint}", node=node.id
            )
            continue
        if name in set_by_edges and not is_expr(value):
            out.add(
                "property-conflict",
                f"{label}: {name!r} is given a value and is also set by an edge to "
                f"{set_by_edges[name][0].target.address}",
                node=node.id,
            )
        if too_deep(out, label, name, value, node.id):
            continue
        prop = spec.properties.get(name)
        if prop is None:
            if spec.complete:
                out.add("unknown-property", f"{label}: {node.type} has no property {name!r}", node=node.id)
            continue
        nested_set = {p.partition(".")[2] for p in set_by_edges if p.startswith(name + ".")}
        check_property(out, label, node.id, name, prop, value, spec.complete, nested_set)
    for name, prop in spec.properties.items():
        if not prop.required or node.properties.get(name) is not None or name in set_by_edges:
            continue
        if prop.block is not None and any(p.startswith(name + ".") for p in set_by_edges):
            continue
        what = "block" if prop.block else "property"
        out.add(
            "missing-required-property",
            f"{label}: required {what} {name!r} is not set (give it a value or draw an edge that sets it)",
            node=node.id,
        )
    for path in set_by_edges:
        head, _, rest = path.partition(".")
        if rest and head in node.properties and not block_accepts(node.properties[head]):
            out.add("wrong-type", f"{label}: {head!r} must be a block to receive {path!r}", node=node.id)


def block_accepts(value: Any) -> bool:
    return value is None or isinstance(value, dict) or (isinstance(value, list) and bool(value))


def too_deep(out: Collector, label: str, name: str, value: Any, node_id: str) -> bool:
    if value_depth_exceeds(value, MAX_VALUE_DEPTH):
        out.add(
            "value-too-deep",
            f"{label}: {name!r} is nested deeper than {MAX_VALUE_DEPTH} levels",
            node=node_id,
        )
        return True
    return False


def check_property(
    out: Collector,
    label: str,
    node_id: str,
    path: str,
    prop: PropertySpec,
    value: Any,
    complete: bool,
    set_inside: set[str] | None = None,
) -> None:
    if value is None or is_expr(value):
        return
    if prop.block is None:
        problem = check_value(value, parse_type(prop.type))
        if problem is None and isinstance(value, float) and not math.isfinite(value):
            problem = "not a finite number"
        if problem:
            out.add("wrong-type", f"{label}: {path}: {problem}", node=node_id)
        return
    if prop.block == "single":
        elements = [value] if isinstance(value, dict) else None
    else:
        elements = value if isinstance(value, list) and all(isinstance(x, dict) for x in value) else None
    if elements is None:
        shape = "an object" if prop.block == "single" else "a list of objects"
        out.add("wrong-type", f"{label}: {path}: block must be {shape}", node=node_id)
        return
    if prop.max_items is not None and len(elements) > prop.max_items:
        out.add("wrong-type", f"{label}: {path}: at most {prop.max_items} block(s) allowed", node=node_id)
    for k, element in enumerate(elements):
        where = f"{path}[{k}]" if prop.block != "single" else path
        for name, sub in element.items():
            if is_expr(sub) and name == "":
                continue
            child = prop.properties.get(name)
            if child is None:
                if complete or not is_identifier(name):
                    out.add("unknown-property", f"{label}: {where} has no property {name!r}", node=node_id)
                continue
            check_property(out, label, node_id, f"{where}.{name}", child, sub, complete)
        for name, child in prop.properties.items():
            edge_set = k == 0 and set_inside is not None and name in set_inside
            if child.required and element.get(name) is None and not edge_set:
                out.add(
                    "missing-required-property",
                    f"{label}: {where}: required property {name!r} is not set",
                    node=node_id,
                )


def check_module(out: Collector, info: NodeInfo, set_by_edges: dict[str, list[EdgeInfo]]) -> None:
    assert info.module is not None
    node, mod = info.node, info.module
    label = label_of(node)
    for name, value in node.properties.items():
        if name not in mod.inputs:
            known = ", ".join(sorted(mod.inputs)) or "none"
            out.add(
                "unknown-module-input",
                f"{label}: module {mod.name!r} has no input {name!r} (inputs: {known})",
                node=node.id,
            )
            continue
        if name in set_by_edges and not is_expr(value):
            out.add(
                "property-conflict",
                f"{label}: input {name!r} has a value and is set by an edge",
                node=node.id,
            )
        if too_deep(out, label, name, value, node.id):
            continue
        try:
            problem = check_value(value, parse_type(mod.inputs[name].type))
        except TypeError_:
            problem = None
        if problem:
            out.add("wrong-type", f"{label}: {name}: {problem}", node=node.id)
    for name, spec in mod.inputs.items():
        if spec.required and node.properties.get(name) is None and name not in set_by_edges:
            out.add("missing-required-property", f"{label}: required input {name!r} is not set", node=node.id)


def check_fixed(out: Collector, info: NodeInfo, allowed: dict[str, str]) -> None:
    node = info.node
    label = label_of(node)
    for name, value in node.properties.items():
        if name not in allowed:
            out.add(
                "unknown-property",
                f"{label}: {node.type} has no property {name!r} (allowed: {', '.join(allowed)})",
                node=node.id,
            )
            continue
        if too_deep(out, label, name, value, node.id):
            continue
        problem = check_value(value, parse_type(allowed[name]))
        if problem:
            out.add("wrong-type", f"{label}: {name}: {problem}", node=node.id)


def check_variable(out: Collector, info: NodeInfo) -> None:
    check_fixed(out, info, VARIABLE_PROPERTIES)
    props = info.node.properties
    label = label_of(info.node)
    for name, value in props.items():
        if name in VARIABLE_PROPERTIES and contains_expr(value):
            out.add(
                "invalid-expression",
                f"{label}: {name} must be a literal value, not an expression",
                node=info.node.id,
            )
            return
    vtype = props.get("type")
    if isinstance(vtype, str):
        try:
            ty = parse_type(vtype)
        except TypeError_ as exc:
            out.add("invalid-variable-type", f"{label}: {exc}", node=info.node.id)
            return
        default = props.get("default")
        if default is not None and not value_depth_exceeds(default, MAX_VALUE_DEPTH):
            problem = check_value(default, ty)
            if problem:
                out.add(
                    "wrong-type",
                    f"{label}: default does not match type {vtype}: {problem}",
                    node=info.node.id,
                )


def check_output(out: Collector, info: NodeInfo, set_by_edges: dict[str, list[EdgeInfo]]) -> None:
    check_fixed(out, info, OUTPUT_PROPERTIES)
    label = label_of(info.node)
    has_value = "value" in info.node.properties
    edges = set_by_edges.get("value", [])
    if has_value and edges and not is_expr(info.node.properties["value"]):
        out.add("property-conflict", f"{label}: has a value and an edge that sets it", node=info.node.id)
    elif not has_value and not edges:
        out.add(
            "output-without-value",
            f"{label}: give it a value or draw an edge to the node it shows",
            node=info.node.id,
        )
