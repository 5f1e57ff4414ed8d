"""Import Terraform files (``.tf`` via python-hcl2, ``.tf.json``) as a canvas.

Resources, data sources, modules, variables and outputs become nodes; every reference in an
expression becomes an edge whose ``attribute`` is the property holding it. A property that is
exactly the reference a catalog rule would generate (``vpc_id = aws_vpc.main.id``) is dropped,
since the edge sets it; anything else stays as ``{"$expr": ...}``. Parents come from the
catalog's containment rules and positions from the layered layout.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.lib.errors import FieldError, ValidationFailed
from app.terraform.blocks import MODULES_PREFIX
from app.terraform.canvas import Canvas, Edge, Node
from app.terraform.canvas_builder import ImportResult, finish_canvas, unique_id
from app.terraform.catalog import Catalog
from app.terraform.graph import AddressIndex, NodeInfo, address_of
from app.terraform.hclsyntax import (
    EXPR_KEY,
    META_KEYS,
    ExpressionError,
    HclSyntaxError,
    expr,
    expressions,
    find_references,
    is_expr,
    normalize_expression,
    parse_hcl,
    raw_to_source,
    split_template,
    unwrap_interpolation,
)
from app.terraform.types import NUMBER

MAX_FILES = 200
MAX_FILE_BYTES = 2 * 1024 * 1024
_LITERAL_ATTRS = {
    "variable": {"type", "default", "description", "sensitive", "nullable"},
    "output": {"description"},
}
_DROPPED_MODULE_ATTRS = {"source", "version", "providers", "depends_on"}


@dataclass(slots=True)
class _Parsed:
    kind: str  # resource data module variable output
    type: str
    name: str
    body: dict[str, Any]
    depends_on: list[str]


def import_files(files: Mapping[str, str], catalog: Catalog) -> ImportResult:
    """Turn ``{file name: content}`` into a canvas (raises ValidationFailed naming file and line)."""
    tf_files = {n: c for n, c in files.items() if n.endswith((".tf", ".tf.json"))}
    if not tf_files:
        raise ValidationFailed(
            "no Terraform files: give .tf or .tf.json files", errors=[FieldError("files", "no .tf files")]
        )
    if len(tf_files) > MAX_FILES:
        raise ValidationFailed(
            f"too many files (at most {MAX_FILES})", errors=[FieldError("files", "too many")]
        )
    warnings: list[str] = []
    parsed: list[_Parsed] = []
    provider_vars: set[str] = set()
    for name in sorted(tf_files):
        content = tf_files[name]
        if len(content.encode()) > MAX_FILE_BYTES:
            raise ValidationFailed(
                f"{name} is larger than {MAX_FILE_BYTES} bytes",
                errors=[FieldError(f"files.{name}", "too large")],
            )
        doc = _parse_json(name, content) if name.endswith(".tf.json") else _parse_hcl(name, content)
        parsed.extend(_blocks(doc, json_syntax=name.endswith(".tf.json"), warnings=warnings, file=name))
        provider_vars |= _provider_variables(doc, json_syntax=name.endswith(".tf.json"))
    parsed = [p for p in parsed if not _generated_provider_variable(p, provider_vars, catalog)]
    return ImportResult(build_canvas(parsed, catalog), warnings)


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def _parse_hcl(name: str, content: str) -> dict[str, Any]:
    try:
        doc = parse_hcl(content)
    except HclSyntaxError as exc:
        where = f" (line {exc.line})" if exc.line is not None else ""
        message = f"line {exc.line}: {exc}" if exc.line is not None else str(exc)
        raise ValidationFailed(
            f"{name} is not valid HCL{where}", errors=[FieldError(f"files.{name}", message)]
        ) from None
    return doc if isinstance(doc, dict) else {}


def _parse_json(name: str, content: str) -> dict[str, Any]:
    try:
        doc = json.loads(content)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"{name} is not valid JSON (line {exc.lineno})",
            errors=[FieldError(f"files.{name}", f"line {exc.lineno}: {exc.msg}")],
        ) from None
    except RecursionError:
        raise ValidationFailed(
            f"{name} is nested too deeply", errors=[FieldError(f"files.{name}", "too deep")]
        ) from None
    if not isinstance(doc, dict):
        raise ValidationFailed(
            f"{name} must hold a JSON object", errors=[FieldError(f"files.{name}", "not an object")]
        )
    return doc


def _labelled(doc: Any, depth: int, json_syntax: bool) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """Blocks with ``depth`` labels: python-hcl2 gives lists of nested dicts, JSON nested objects."""
    out: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    items = doc if isinstance(doc, list) else [doc]

    def walk(node: Any, labels: tuple[str, ...]) -> None:
        if len(labels) == depth:
            for body in node if isinstance(node, list) else [node]:
                if isinstance(body, dict):
                    out.append((labels, body))
            return
        if isinstance(node, dict):
            for key, sub in node.items():
                if key in META_KEYS:
                    continue
                walk(sub, (*labels, key if json_syntax else key.strip('"')))

    for item in items:
        walk(item, ())
    return out


def _blocks(doc: dict[str, Any], *, json_syntax: bool, warnings: list[str], file: str) -> list[_Parsed]:
    out: list[_Parsed] = []
    for kind, depth in (("resource", 2), ("data", 2), ("module", 1), ("variable", 1), ("output", 1)):
        for labels, body in _labelled(doc.get(kind), depth, json_syntax):
            literal = _LITERAL_ATTRS.get(kind, set())
            props: dict[str, Any] = {}
            depends: list[str] = []
            for key, raw in body.items():
                if key in META_KEYS:
                    continue
                if key == "depends_on":
                    depends = (
                        [_traversal(x) for x in raw if isinstance(x, str)] if isinstance(raw, list) else []
                    )
                elif kind == "variable" and key == "type":
                    props[key] = raw if json_syntax else unwrap_interpolation(str(raw))
                elif kind == "variable" and key == "validation":
                    warnings.append(f"{file}: variable {labels[0]}: validation blocks are not kept")
                else:
                    props[key] = _value(raw, json_syntax, literal=key in literal)
            if kind in ("resource", "data"):
                ntype = labels[0] if kind == "resource" else "data." + labels[0]
                out.append(_Parsed(kind, ntype, labels[1], props, depends))
            elif kind == "module":
                source = props.get("source")
                mname = _module_name(source)
                if not (isinstance(source, str) and source.startswith(MODULES_PREFIX)):
                    warnings.append(f"{file}: module {labels[0]}: source {source!r} is not a bundled module")
                inputs = {k: v for k, v in props.items() if k not in _DROPPED_MODULE_ATTRS}
                out.append(_Parsed(kind, f"module.{mname}", labels[0], inputs, depends))
            else:
                out.append(_Parsed(kind, kind, labels[0], props, depends))
    for kind in ("locals", "provisioner"):
        if doc.get(kind):
            warnings.append(f"{file}: {kind} blocks are not part of designs and were skipped")
    return out


def _module_name(source: Any) -> str:
    if not isinstance(source, str) or not source.strip("/. "):
        return "unknown"
    tail = source.rstrip("/").split("/")[-1]
    return re.sub(r"[^A-Za-z0-9_-]", "_", tail) or "unknown"


def _traversal(raw: str) -> str:
    """``"${aws_vpc.main}"`` (JSON syntax) or ``aws_vpc.main`` -> ``aws_vpc.main``."""
    return unwrap_interpolation(raw.strip()).strip()


def _provider_variables(doc: dict[str, Any], json_syntax: bool) -> set[str]:
    names: set[str] = set()
    for _labels, body in _labelled(doc.get("provider"), 1, json_syntax):
        for key, raw in body.items():
            if key in META_KEYS or not isinstance(raw, str):
                continue
            for parts in find_references(_traversal(raw)):
                if parts[0] == "var" and len(parts) > 1:
                    names.add(parts[1])
    return names


def _generated_provider_variable(p: _Parsed, provider_vars: set[str], catalog: Catalog) -> bool:
    """True for a variable exactly as Board3 generates it for a provider setting."""
    if p.kind != "variable" or p.name not in provider_vars:
        return False
    for doc in catalog.providers.values():
        for spec in doc.settings.values():
            if spec.variable == p.name:
                generated = {"type": spec.type, "description": spec.description, "default": spec.default}
                return p.body == generated
    return False


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


def _value(raw: Any, json_syntax: bool, *, literal: bool = False) -> Any:
    """A parsed value as a canvas value (literal JSON, or ``{"$expr": ...}``)."""
    if raw is None or isinstance(raw, bool | int | float):
        return raw
    if isinstance(raw, list):
        return [_value(v, json_syntax, literal=literal) for v in raw]
    if isinstance(raw, dict):
        if json_syntax:
            if literal:
                return raw
            keys = {k: _json_string(k) for k in raw}
            if any(not isinstance(k, str) for k in keys.values()):
                return expr(_json_object_source(raw))
            return {str(keys[k]): _value(v, True) for k, v in raw.items()}
        if raw.get("__is_block__"):
            return {k: _value(v, False) for k, v in raw.items() if k not in META_KEYS}
        out: dict[str, Any] = {}
        for k, v in raw.items():
            if k in META_KEYS:
                continue
            key = _hcl_key(k)
            if key is None:
                return expr(normalize_expression(raw_to_source(raw)))
            out[key] = _value(v, False)
        return out
    if not isinstance(raw, str):
        return raw
    if json_syntax:
        return raw if literal else _json_string(raw)
    if raw.startswith('"'):
        return _quoted(raw)
    inner = unwrap_interpolation(raw)
    if NUMBER.match(inner):
        return float(inner) if any(c in inner for c in ".eE") else int(inner)
    return expr(inner)


def _quoted(raw: str) -> Any:
    try:
        template = split_template(raw, quoted=True)
    except ExpressionError:
        return expr(raw)
    literal = template.literal
    if literal is not None:
        return literal
    single = template.single_interpolation
    return expr(single if single is not None else raw)


def _hcl_key(key: str) -> str | None:
    if key.startswith('"'):
        value = _quoted(key)
        return value if isinstance(value, str) else None
    if key.startswith("${"):
        return None
    return key


def _json_string(text: str) -> Any:
    """A JSON-syntax template string: literal text, one expression, or a template expression."""
    try:
        template = split_template(text, quoted=False)
    except ExpressionError:
        return text
    literal = template.literal
    if literal is not None:
        return literal
    single = template.single_interpolation
    if single is not None:
        return expr(_normalized(single))
    return expr(_normalized(_template_source(text)))


def _normalized(text: str) -> str:
    try:
        return normalize_expression(text)
    except ExpressionError:
        return text


def _template_source(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\t", "\\t") + '"'


def _json_object_source(raw: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{_template_source(k)} = {json.dumps(v)}" for k, v in raw.items()) + " }"


# --------------------------------------------------------------------------------------------
# Canvas
# --------------------------------------------------------------------------------------------


def build_canvas(parsed: list[_Parsed], catalog: Catalog) -> Canvas:
    """Nodes, edges from references, simplified properties, parents and positions."""
    used: set[str] = set()
    nodes: list[Node] = []
    infos: list[NodeInfo] = []
    for i, p in enumerate(parsed):
        ntype = catalog.get(p.type)
        if ntype is not None:
            for prop, spec in ntype.spec.properties.items():
                value = p.body.get(prop)
                if spec.block == "single" and isinstance(value, list) and len(value) == 1:
                    p.body[prop] = value[0]
        node = Node(id="", type=p.type, name=p.name, properties=p.body)
        kind = catalog.kind_of(p.type) or ("module" if p.kind == "module" else None)
        node.id = unique_id(address_of(node, kind), used)
        info = NodeInfo(i, node, kind, address_of(node, kind), catalog.get(p.type), catalog.module(p.type))
        nodes.append(node)
        infos.append(info)
    index = AddressIndex(infos, catalog)
    edges: set[tuple[str, str, str | None]] = set()
    for info, p in zip(infos, parsed, strict=True):
        for dep in p.depends_on:
            target, _, _ = index.resolve(tuple(dep.split(".")))
            if target is not None and target.node.id != info.node.id:
                edges.add((info.node.id, target.node.id, "depends_on"))
        simplified = _simplify(info, index, catalog)
        for prop, value in info.node.properties.items():
            for text in expressions(value):
                for parts in find_references(text):
                    target, _, _ = index.resolve(parts)
                    if target is not None and target.node.id != info.node.id:
                        edges.add((info.node.id, target.node.id, prop))
        for target_id, attribute in simplified:
            edges.add((info.node.id, target_id, attribute))
    edge_list = [
        Edge(source=s, target=t, attribute=a)
        for s, t, a in sorted(edges, key=lambda e: (e[0], e[1], e[2] or ""))
    ]
    return finish_canvas(nodes, edge_list, catalog)


TargetOf = Callable[[tuple[str, ...] | None], tuple[NodeInfo, str | None] | None]


def _single_ref(value: Any) -> tuple[str, ...] | None:
    if not is_expr(value):
        return None
    text = value[EXPR_KEY]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)+", text):
        return None
    return tuple(text.split("."))


def _simplify(info: NodeInfo, index: AddressIndex, catalog: Catalog) -> list[tuple[str, str | None]]:
    """Drop properties that an edge would generate exactly; return the edges ``(target, attribute)``."""
    props = info.node.properties
    found: list[tuple[str, str | None]] = []

    def target_of(parts: tuple[str, ...] | None) -> tuple[NodeInfo, str | None] | None:
        if parts is None:
            return None
        target, _, _ = index.resolve(parts)
        if target is None or target.node.id == info.node.id:
            return None
        rest = parts[len(target.address.split(".")) :]
        if len(rest) > 1:
            return None
        return target, (rest[0] if rest else None)

    if info.kind == "output":
        hit = target_of(_single_ref(props.get("value")))
        if hit is not None:
            target, attr = hit
            ok = (target.kind == "variable" and attr is None) or (
                target.kind != "variable" and attr is not None
            )
            if ok:
                del props["value"]
                found.append((target.node.id, attr))
        return found
    if info.kind not in ("resource", "data", "module"):
        return found
    for prop in list(props):
        value = props[prop]
        is_blocks = (
            isinstance(value, list) and value and all(type(v) is dict and not is_expr(v) for v in value)
        )
        if (is_blocks or (type(value) is dict and not is_expr(value))) and info.ntype is not None:
            found.extend(_simplify_block(info, prop, target_of, catalog))
        else:
            found.extend(_absorb(info, props, prop, prop, target_of, catalog))
    return found


def _absorb(
    info: NodeInfo, container: dict[str, Any], key: str, path: str, target_of: TargetOf, catalog: Catalog
) -> list[tuple[str, str | None]]:
    """Drop ``container[key]`` when edges (attribute ``path``) regenerate it exactly: it is one
    reference, or a list of references, that the catalog's rules (or a variable/module) explain."""
    value = container[key]
    is_list = isinstance(value, list)
    hits = [target_of(_single_ref(v)) for v in (value if is_list else [value])]
    if not hits or not all(
        h is not None and _rule_matches(info, h[0], h[1], path, catalog, is_list) for h in hits
    ):
        return []
    del container[key]
    return [(h[0].node.id, path) for h in hits if h is not None]


def _simplify_block(
    info: NodeInfo, prop: str, target_of: TargetOf, catalog: Catalog
) -> list[tuple[str, str | None]]:
    """``block { attr = ref }``: move the reference to an edge with attribute ``block.attr``."""
    props = info.node.properties
    value = props[prop]
    element = value[0] if isinstance(value, list) and value and isinstance(value[0], dict) else value
    if not isinstance(element, dict):
        return []
    found: list[tuple[str, str | None]] = []
    for attr in list(element):
        found.extend(_absorb(info, element, attr, f"{prop}.{attr}", target_of, catalog))
    if found and not element and ((isinstance(value, list) and len(value) == 1) or isinstance(value, dict)):
        del props[prop]
    return found


def _rule_matches(
    info: NodeInfo, target: NodeInfo, attr: str | None, prop: str, catalog: Catalog, is_list: bool
) -> bool:
    if target.kind == "variable":
        return not is_list and attr is None
    if target.kind == "module":
        return not is_list and attr == prop
    if info.kind == "module":
        return not is_list and attr == "id"
    rule = catalog.rule_for(info.node.type, target.node.type, prop)
    return rule is not None and rule.attribute == attr and rule.is_list == is_list
