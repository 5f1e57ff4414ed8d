"""The generated configuration as data: blocks with bodies, shared by the JSON and HCL renderers.

Built from a valid :class:`~app.terraform.graph.Analysis`. Values are canvas values: plain JSON is a
literal, ``{"$expr": "..."}`` an expression (references made from edges are expressions too).
Everything is sorted here, so both renderings are deterministic whatever the canvas order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from app.lib.errors import FieldError, ValidationFailed
from app.terraform.canvas import Canvas, CanvasLimits
from app.terraform.catalog import Catalog
from app.terraform.catalog_types import PropertySpec
from app.terraform.graph import Analysis, EdgeInfo, NodeInfo, set_path
from app.terraform.hclsyntax import EXPR_KEY, expr, is_expr, normalize_expression
from app.terraform.node_checks import VARIABLE_PROPERTIES
from app.terraform.validate import analyze

MODULES_PREFIX = "./modules/"


@dataclass(slots=True)
class Body:
    """Attributes (name -> value) and nested blocks (name, body) of one block."""

    attrs: dict[str, Any] = field(default_factory=dict)
    blocks: list[tuple[str, Body]] = field(default_factory=list)


@dataclass(slots=True)
class Block:
    """A top-level block: ``resource "aws_vpc" "main" {...}`` is ("resource", ("aws_vpc", "main"))."""

    kind: str
    labels: tuple[str, ...]
    body: Body


@dataclass(slots=True)
class Config:
    required_providers: dict[str, dict[str, str]]
    blocks: list[Block]
    modules: list[str]

    def of_kind(self, *kinds: str) -> list[Block]:
        return [b for b in self.blocks if b.kind in kinds]


class DesignInvalid(ValidationFailed):
    """The design has problems; ``extra["problems"]`` carries them like ``POST .../validate`` does."""

    code = "design-invalid"
    title = "The design is not valid"


def build_config(canvas: Canvas, catalog: Catalog, limits: CanvasLimits | None = None) -> Config:
    """Validate and turn a design into a Config (raises DesignInvalid listing every problem)."""
    analysis = analyze(canvas, catalog, limits)
    if not analysis.valid:
        raise invalid(analysis)
    return config_from_analysis(analysis, catalog)


def invalid(analysis: Analysis) -> DesignInvalid:
    problems = analysis.problems
    errors = [
        FieldError(
            f"canvas.nodes[{analysis.by_id[p.node].index}]"
            if p.node in analysis.by_id
            else (f"canvas.edges[{p.edge}]" if p.edge is not None else "canvas"),
            f"{p.code}: {p.message}",
        )
        for p in problems
    ]
    return DesignInvalid(
        f"the design has {len(problems)} problem(s); fix them before generating Terraform",
        errors=errors,
        extra={"problems": [msgspec.to_builtins(p) for p in problems]},  # as validate lists them
    )


def config_from_analysis(analysis: Analysis, catalog: Catalog) -> Config:
    edges_from: dict[str, list[EdgeInfo]] = {}
    for e in sorted(analysis.edges, key=lambda e: (e.prop or "", e.ref)):
        edges_from.setdefault(e.source.node.id, []).append(e)
    variables = {i.node.name for i in analysis.nodes if i.kind == "variable"}
    providers: set[str] = set()
    modules: set[str] = set()
    blocks: list[Block] = []
    for info in analysis.nodes:
        out = edges_from.get(info.node.id, [])
        if info.kind in ("resource", "data"):
            assert info.ntype is not None
            providers.add(info.ntype.provider)
            blocks.append(_resource_block(info, out, analysis.expressions))
        elif info.kind == "module":
            assert info.module is not None
            providers.update(info.module.providers)
            modules.add(info.module.name)
            blocks.append(_module_block(info, out, analysis.expressions))
        elif info.kind == "variable":
            blocks.append(Block("variable", (info.node.name,), _variable_body(info.node.properties)))
        elif info.kind == "output":
            blocks.append(_output_block(info, out, analysis.expressions))
    required: dict[str, dict[str, str]] = {}
    for name in sorted(providers):
        doc = catalog.providers.get(name)
        if doc is None or doc.builtin:
            continue
        required[name] = {"source": doc.source, **({"version": doc.version} if doc.version else {})}
        if doc.settings or doc.config_blocks:
            body = Body()
            for setting, spec in sorted(doc.settings.items()):
                body.attrs[setting] = expr(f"var.{spec.variable}")
                if spec.variable not in variables:
                    variables.add(spec.variable)
                    props = {"type": spec.type, "description": spec.description, "default": spec.default}
                    blocks.append(Block("variable", (spec.variable,), _variable_body(props)))
            body.blocks = [(b, Body()) for b in sorted(doc.config_blocks)]
            blocks.append(Block("provider", (name,), body))
    order = {"provider": 0, "variable": 1, "data": 2, "resource": 3, "module": 4, "output": 5}
    blocks.sort(key=lambda b: (order[b.kind], b.labels))
    return Config(required, blocks, sorted(modules))


def _refs(edges: list[EdgeInfo]) -> tuple[dict[str, Any], list[tuple[str, Any]], list[Any]]:
    """(single values by property, list appends, depends_on) from a node's outgoing edges."""
    sets: dict[str, Any] = {}
    appends: list[tuple[str, Any]] = []
    depends: list[str] = []
    for e in edges:
        if e.mode == "depends_on":
            depends.append(e.ref)
        elif e.mode in ("property", "output") and e.prop is not None:
            sets[e.prop] = expr(e.ref)
        elif e.mode == "list" and e.prop is not None:
            appends.append((e.prop, expr(e.ref)))
    return sets, appends, [expr(d) for d in sorted(set(depends))]


def _resource_block(info: NodeInfo, edges: list[EdgeInfo], canonical: Mapping[str, str]) -> Block:
    assert info.ntype is not None
    spec = info.ntype.spec
    # Canvas values are normalised first; references from edges are canonical already.
    props: dict[str, Any] = {k: normalize_value(v, canonical) for k, v in info.node.properties.items()}
    sets, appends, depends = _refs(edges)
    for prop, value in sets.items():
        set_path(props, prop, value, append=False, block_list=_is_block_list(spec.properties, prop))
    for prop, value in appends:
        set_path(props, prop, value, append=True, block_list=_is_block_list(spec.properties, prop))
    body = _body(props, spec.properties)
    if depends:
        body.attrs["depends_on"] = depends
    kind = "resource" if info.kind == "resource" else "data"
    return Block(kind, (info.ntype.tf_type, info.node.name), body)


def _is_block_list(props: dict[str, PropertySpec], path: str) -> bool:
    head = path.partition(".")[0]
    spec = props.get(head)
    return spec is not None and spec.block in ("list", "set")


def _body(props: dict[str, Any], specs: dict[str, PropertySpec]) -> Body:
    body = Body()
    for name in sorted(props):
        value = props[name]
        spec = specs.get(name)
        if spec is not None and spec.block is not None and value is not None and not is_expr(value):
            elements = [value] if isinstance(value, dict) else value
            body.blocks.extend((name, _body(el, spec.properties)) for el in elements)
        else:
            body.attrs[name] = value
    return body


def normalize_value(value: Any, canonical: Mapping[str, str]) -> Any:
    """Canonicalise expressions inside a value (``{"$expr": " var.x "}`` -> ``var.x``).

    ``canonical`` holds the forms validation already parsed (``Analysis.expressions``): parsing
    costs about half a millisecond per expression, too much to pay twice for a large design.
    """
    if type(value) is dict:
        if is_expr(value):
            text = value[EXPR_KEY]
            return expr(canonical.get(text) or normalize_expression(text))
        return {k: normalize_value(v, canonical) for k, v in value.items()}
    if type(value) is list:
        return [normalize_value(v, canonical) for v in value]
    return value


def _module_block(info: NodeInfo, edges: list[EdgeInfo], canonical: Mapping[str, str]) -> Block:
    assert info.module is not None
    sets, _appends, depends = _refs(edges)
    body = Body(attrs={"source": MODULES_PREFIX + info.module.name})
    props = {**{k: normalize_value(v, canonical) for k, v in info.node.properties.items()}, **sets}
    for name in sorted(props):
        body.attrs[name] = props[name]
    if depends:
        body.attrs["depends_on"] = depends
    return Block("module", (info.node.name,), body)


def _variable_body(props: dict[str, Any]) -> Body:
    return Body(attrs={name: props[name] for name in VARIABLE_PROPERTIES if name in props})


def _output_block(info: NodeInfo, edges: list[EdgeInfo], canonical: Mapping[str, str]) -> Block:
    sets, _, depends = _refs(edges)
    props = info.node.properties
    body = Body()
    body.attrs["value"] = (
        normalize_value(props["value"], canonical) if "value" in props else sets.get("value")
    )
    for name in ("description", "sensitive"):
        if name in props:
            body.attrs[name] = props[name]
    if depends:
        body.attrs["depends_on"] = depends
    return Block("output", (info.node.name,), body)
