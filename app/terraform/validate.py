"""Validation of a design: every problem at once, each with a stable code and the node or edge.

``analyze`` never raises on any canvas (hostile input included) and returns the resolved graph
that the code generators use; ``validate`` returns the public ``ValidationResult``. Codes are
listed in ``docs/terraform.md``.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx

from app.terraform.canvas import Canvas, CanvasLimits, CanvasProblem, Edge, check_structure
from app.terraform.catalog import Catalog, property_spec
from app.terraform.graph import (
    AddressIndex,
    Analysis,
    EdgeInfo,
    EdgeMode,
    NodeInfo,
    address_of,
    label_of,
    reference,
)
from app.terraform.hclsyntax import (
    ExpressionError,
    contains_expr,
    expressions,
    find_references,
    forbidden_function,
    is_identifier,
    normalize_expression,
)
from app.terraform.node_checks import (
    INDEX_RE,
    MAX_VALUE_DEPTH,
    RESERVED_VARIABLE_NAMES,
    Collector,
    check_module,
    check_output,
    check_resource,
    check_variable,
)
from app.terraform.results import ValidationResult
from app.terraform.types import value_depth_exceeds


def validate(canvas: Canvas, catalog: Catalog, limits: CanvasLimits | None = None) -> ValidationResult:
    """Check a design; ``valid`` is true exactly when there is no problem."""
    analysis = analyze(canvas, catalog, limits)
    return ValidationResult(valid=analysis.valid, problems=analysis.problems)


def analyze(canvas: Canvas, catalog: Catalog, limits: CanvasLimits | None = None) -> Analysis:
    """Resolve and check a design (pure; never raises for any canvas)."""
    out = Collector()
    structural = check_structure(canvas, limits or CanvasLimits())
    for sp in structural:
        _structural_problem(out, sp, canvas)
    if any(sp.field.endswith((".nodes", ".edges")) for sp in structural):
        return Analysis(canvas, [], {}, [], out.finish())

    infos: list[NodeInfo] = []
    by_id: dict[str, NodeInfo] = {}
    seen_address: dict[str, str] = {}
    for i, node in enumerate(canvas.nodes):
        if node.id in by_id:
            continue  # reported as a duplicate id already
        kind = catalog.kind_of(node.type)
        info = NodeInfo(i, node, kind, address_of(node, kind))
        by_id[node.id] = info
        infos.append(info)
        _check_name(out, info)
        if kind is None:
            hint = (
                " (bundled modules: " + ", ".join(sorted(catalog.modules)) + ")"
                if node.type.startswith("module.")
                else ""
            )
            out.add("unknown-type", f"{label_of(node)}: unknown node type {node.type!r}{hint}", node=node.id)
            continue
        info.ntype = catalog.get(node.type)
        info.module = catalog.module(node.type)
        if is_identifier(node.name):
            first = seen_address.setdefault(info.address, node.id)
            if first != node.id:
                out.add(
                    "duplicate-address",
                    f"{info.address} is used by nodes {first!r} and {node.id!r}; "
                    "Terraform addresses must be unique",
                    node=node.id,
                )

    index = AddressIndex([i for i in infos if i.kind is not None], catalog)
    edges = _resolve_edges(out, canvas, by_id, catalog)
    edge_set: dict[str, dict[str, list[EdgeInfo]]] = {}
    for e in edges:
        if e.prop is not None and e.mode in ("property", "list", "output"):
            edge_set.setdefault(e.source.node.id, {}).setdefault(e.prop, []).append(e)
    _check_edge_conflicts(out, edge_set)

    analysis = Analysis(canvas, infos, by_id, edges)
    edge_pairs = {(e.source, e.target, e.attribute) for e in canvas.edges}
    for info in infos:
        if info.kind is None:
            continue
        set_by_edges = edge_set.get(info.node.id, {})
        if info.kind in ("resource", "data"):
            check_resource(out, info, set_by_edges)
        elif info.kind == "module":
            check_module(out, info, set_by_edges)
        elif info.kind == "variable":
            check_variable(out, info)
        else:
            check_output(out, info, set_by_edges)
        _check_expressions(out, info, index, edge_pairs, analysis)
    for e in edges:
        if e.mode == "expression":
            refs = analysis.expression_refs.get(e.source.node.id, {}).get(e.prop or "", set())
            if e.target.node.id not in refs:
                out.add(
                    "reference-not-in-expression",
                    f"edge {label_of(e.source.node)} -> {label_of(e.target.node)}: the expression in "
                    f"{e.prop!r} does not refer to {e.target.address}",
                    edge=e.index,
                )
    _check_cycles(out, analysis)
    analysis.problems = out.finish()
    return analysis


# --------------------------------------------------------------------------------------------
# Structure and names
# --------------------------------------------------------------------------------------------


def _structural_problem(out: Collector, problem: CanvasProblem, canvas: Canvas) -> None:
    field, message = problem.field, problem.message
    m = INDEX_RE.search(field)
    idx = int(m.group(1)) if m else None
    if problem.code is not None:
        where = (
            {"edge": idx}
            if ".edges[" in field
            else {"node": canvas.nodes[idx].id if idx is not None else None}
        )
        out.add(problem.code, f"{field}: {message}", **where)
    elif ".edges[" in field:
        out.add("dangling-edge", message, edge=idx)
    elif field.endswith((".nodes", ".edges")):
        out.add("too-large", message)
    elif field.endswith(".parent") and idx is not None:
        code = "parent-loop" if "loop" in message else "invalid-parent"
        out.add(code, message, node=canvas.nodes[idx].id)
    elif idx is not None:
        out.add("duplicate-node-id", message, node=canvas.nodes[idx].id)
    else:
        out.add("invalid-canvas", message)


def _check_name(out: Collector, info: NodeInfo) -> None:
    name = info.node.name
    if not is_identifier(name):
        out.add(
            "invalid-name",
            f"{info.node.type}: name {name!r} is not a valid Terraform identifier "
            "(letters, digits, '_' and '-', not starting with a digit or '-')",
            node=info.node.id,
        )
    elif info.kind == "variable" and name in RESERVED_VARIABLE_NAMES:
        out.add("invalid-name", f"variable name {name!r} is reserved by Terraform", node=info.node.id)


# --------------------------------------------------------------------------------------------
# Edges
# --------------------------------------------------------------------------------------------


def _resolve_edges(
    out: Collector, canvas: Canvas, by_id: dict[str, NodeInfo], catalog: Catalog
) -> list[EdgeInfo]:
    resolved: list[EdgeInfo] = []
    for i, edge in enumerate(canvas.edges):
        s, t = by_id.get(edge.source), by_id.get(edge.target)
        if s is None or t is None or s.kind is None or t.kind is None:
            continue  # dangling (reported) or unknown type (reported on the node)
        if edge.source == edge.target:
            out.add("cycle", f"{label_of(s.node)} refers to itself", edge=i, node=s.node.id)
            continue
        info = _resolve_edge(out, i, edge, s, t, catalog)
        if info is not None:
            resolved.append(info)
    return resolved


def _resolve_edge(
    out: Collector, i: int, e: Edge, s: NodeInfo, t: NodeInfo, catalog: Catalog
) -> EdgeInfo | None:
    a = e.attribute
    where = f"edge {label_of(s.node)} -> {label_of(t.node)}"

    def bad(code: str, message: str) -> None:
        out.add(code, f"{where}: {message}", edge=i)

    if s.kind == "variable":
        bad("edge-not-allowed", "a variable cannot refer to other nodes")
        return None
    if t.kind == "output":
        bad("edge-not-allowed", "nothing can refer to an output")
        return None
    if a == "depends_on":
        if t.kind == "variable":
            bad("edge-not-allowed", "depends_on cannot name a variable")
            return None
        return EdgeInfo(i, e, s, t, "depends_on", None, t.address)
    if a is not None and contains_expr(s.node.properties.get(a)):
        return EdgeInfo(i, e, s, t, "expression", a, t.address)
    if s.kind == "output":
        if t.kind == "module":
            if a is None or t.module is None or a not in t.module.outputs:
                outs = ", ".join(sorted(t.module.outputs)) if t.module else ""
                bad("missing-module-output", f"name the module output to show in attribute (outputs: {outs})")
                return None
        elif t.kind in ("resource", "data") and a is not None and not _has_attribute(t, a):
            bad("unknown-attribute", f"{t.node.type} has no attribute {a!r}")
            return None
        target_attr = None if t.kind == "variable" else (a or "id")
        return EdgeInfo(i, e, s, t, "output", "value", reference(t, target_attr))
    if s.kind == "module":
        assert s.module is not None
        if a is None and t.kind == "variable" and t.node.name in s.module.inputs:
            a = t.node.name
        if a is None:
            return EdgeInfo(i, e, s, t, "depends_on", None, t.address)
        if a not in s.module.inputs:
            bad("unknown-module-input", f"module {s.module.name!r} has no input {a!r}")
            return None
        return _value_edge(bad, i, e, s, t, a, a)
    # resources and data sources
    assert s.ntype is not None
    if t.kind in ("variable", "module"):
        if a is None and t.kind == "variable" and t.node.name in s.ntype.spec.properties:
            a = t.node.name
        if a is None:
            if t.kind == "module":
                return EdgeInfo(i, e, s, t, "depends_on", None, t.address)
            bad("edge-needs-attribute", f"say which property of {s.node.type} the variable sets (attribute)")
            return None
        if property_spec(s.ntype.spec, a) is None and (s.ntype.spec.complete or "." in a):
            bad("unknown-property", f"{s.node.type} has no property {a!r}")
            return None
        return _value_edge(bad, i, e, s, t, a, a)
    rule = catalog.rule_for(s.node.type, t.node.type, a)
    if rule is not None:
        mode: EdgeMode = "list" if rule.is_list else "property"
        return EdgeInfo(i, e, s, t, mode, rule.property, reference(t, rule.attribute))
    if a is None:
        return EdgeInfo(i, e, s, t, "depends_on", None, t.address)
    allowed = sorted({tt for r in s.ntype.spec.references if r.property == a for tt in r.targets})
    hint = (
        f"; {a} may refer to: {', '.join(allowed)}"
        if allowed
        else f"; no rule lets {a!r} refer to another node"
    )
    bad("edge-not-allowed", f"{s.node.type}.{a} cannot refer to {t.node.type}{hint}")
    return None


def _value_edge(
    bad: Callable[[str, str], None], i: int, e: Edge, s: NodeInfo, t: NodeInfo, prop: str, module_output: str
) -> EdgeInfo | None:
    """An edge that sets ``prop`` to a variable, a module output or a resource's id."""
    if t.kind == "module":
        if t.module is None or module_output not in t.module.outputs:
            outs = ", ".join(sorted(t.module.outputs)) if t.module else ""
            bad(
                "missing-module-output",
                f"module {t.module.name if t.module else t.node.type!r} has no output {module_output!r} "
                f"for {prop!r} (outputs: {outs})",
            )
            return None
        return EdgeInfo(i, e, s, t, "property", prop, reference(t, module_output))
    return EdgeInfo(i, e, s, t, "property", prop, reference(t, None if t.kind == "variable" else "id"))


def _has_attribute(t: NodeInfo, attr: str) -> bool:
    if t.ntype is None:
        return False
    spec = t.ntype.spec
    return attr == "id" or attr in spec.attributes or attr in spec.properties or not spec.complete


def _check_edge_conflicts(out: Collector, edge_set: dict[str, dict[str, list[EdgeInfo]]]) -> None:
    for props in edge_set.values():
        for prop, es in props.items():
            singles = [e for e in es if e.mode != "list"]
            if len(singles) > 1 or (singles and len(es) > len(singles)):
                e = es[1]
                out.add(
                    "property-conflict",
                    f"{label_of(e.source.node)}: {prop!r} is set by more than one edge "
                    f"({', '.join(x.target.address for x in es)})",
                    edge=e.index,
                    node=e.source.node.id,
                )


# --------------------------------------------------------------------------------------------
# Expressions and cycles
# --------------------------------------------------------------------------------------------


def _check_expressions(
    out: Collector,
    info: NodeInfo,
    index: AddressIndex,
    edge_pairs: set[tuple[str, str, str | None]],
    analysis: Analysis,
) -> None:
    node = info.node
    label = label_of(node)
    for name, value in node.properties.items():
        if type(value) not in (dict, list) or value_depth_exceeds(value, MAX_VALUE_DEPTH):
            continue
        for text in expressions(value):
            try:
                analysis.expressions[text] = normalize_expression(text)
            except ExpressionError as exc:
                out.add("invalid-expression", f"{label}: {name}: {exc}", node=node.id)
                continue
            fn = forbidden_function(text)
            if fn:
                out.add(
                    "forbidden-function",
                    f"{label}: {name}: {fn}() reads files on the machine that runs Terraform "
                    "and is not allowed",
                    node=node.id,
                )
            for parts in find_references(text):
                target, code, message = index.resolve(parts)
                if code is not None:
                    out.add(code, f"{label}: {name}: {message}", node=node.id)
                if target is None:
                    continue
                if target.node.id == node.id:
                    out.add("cycle", f"{label}: {name} refers to the node itself", node=node.id)
                    continue
                analysis.expression_refs.setdefault(node.id, {}).setdefault(name, set()).add(target.node.id)
                if (node.id, target.node.id, name) not in edge_pairs:
                    out.add(
                        "missing-edge",
                        f"{label}: {name} refers to {target.address}; draw an edge to it with attribute "
                        f"{name!r} so the design shows the dependency",
                        node=node.id,
                    )


def _check_cycles(out: Collector, analysis: Analysis) -> None:
    graph = nx.DiGraph()
    graph.add_nodes_from(info.node.id for info in analysis.nodes)
    graph.add_edges_from((e.source.node.id, e.target.node.id) for e in analysis.edges)
    for source, props in analysis.expression_refs.items():
        for targets in props.values():
            graph.add_edges_from((source, t) for t in targets)
    names = {info.node.id: info.address for info in analysis.nodes}
    components = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    for component in sorted(components, key=min):
        start = min(component)
        sub = graph.subgraph(component)
        cycle = nx.find_cycle(sub, source=start)
        path = [names[u] for u, _ in cycle] + [names[cycle[0][0]]]
        out.add("cycle", "dependency cycle: " + " -> ".join(path), node=cycle[0][0])


def explicit_attributes(canvas: Canvas, catalog: Catalog) -> Canvas:
    """The canvas with every valid edge's ``attribute`` spelled out (what the edge really sets):
    the property, ``depends_on``, or for an output the target attribute it shows."""
    analysis = analyze(canvas, catalog)
    attrs: dict[int, str | None] = {}
    for e in analysis.edges:
        if e.mode == "depends_on":
            attrs[e.index] = "depends_on"
        elif e.mode == "output":
            attrs[e.index] = (
                None if e.target.kind == "variable" else e.ref.removeprefix(e.target.address + ".")
            )
        else:
            attrs[e.index] = e.prop
    edges = [
        Edge(source=e.source, target=e.target, attribute=attrs.get(i, e.attribute))
        for i, e in enumerate(canvas.edges)
    ]
    return Canvas(nodes=list(canvas.nodes), edges=edges)
