"""Terraform JSON syntax (``main.tf.json``): deterministic bytes for a design.

In JSON syntax most strings are templates, so every literal string (and object key) is escaped
(``${`` -> ``$${``, ``%{`` -> ``%%{``) and expressions are written as ``"${...}"``. Variable
``type``/``default``/``description``, output ``description`` and module ``source`` are read by
Terraform as literals (verified with terraform 1.11) and are written unescaped.
"""

from __future__ import annotations

from typing import Any

import msgspec

from app.terraform.blocks import Block, Body, Config, build_config
from app.terraform.canvas import Canvas, CanvasLimits
from app.terraform.catalog import Catalog
from app.terraform.hclsyntax import EXPR_KEY, escape_template, is_expr

_LITERAL_ATTRS = {
    "variable": frozenset({"type", "default", "description", "sensitive", "nullable"}),
    "output": frozenset({"description", "sensitive"}),
    "module": frozenset({"source"}),
}


def generate_json(canvas: Canvas, catalog: Catalog, limits: CanvasLimits | None = None) -> bytes:
    """``main.tf.json`` for a design (raises DesignInvalid when the design has problems)."""
    return render_json(build_config(canvas, catalog, limits))


def render_json(config: Config) -> bytes:
    doc: dict[str, Any] = {}
    if config.required_providers:
        doc["terraform"] = {"required_providers": config.required_providers}
    for block in config.blocks:
        _insert(doc, block)
    return msgspec.json.format(msgspec.json.encode(doc, order="sorted"), indent=2) + b"\n"


def _insert(doc: dict[str, Any], block: Block) -> None:
    target = doc.setdefault(block.kind, {})
    for label in block.labels[:-1]:
        target = target.setdefault(label, {})
    target[block.labels[-1]] = _body(block.body, _LITERAL_ATTRS.get(block.kind, frozenset()))


def _body(body: Body, literal: frozenset[str] = frozenset()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in body.attrs.items():
        if name == "depends_on":  # JSON syntax wants bare traversals here, not "${...}" templates
            out[name] = [v[EXPR_KEY] for v in value]
        else:
            out[name] = value if name in literal else json_value(value)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for name, sub in body.blocks:
        grouped.setdefault(name, []).append(_body(sub))
    for name, items in grouped.items():
        out[name] = items
    return out


def json_value(value: Any) -> Any:
    """A canvas value as a JSON-syntax value: literals escaped, expressions as ``"${...}"``."""
    t = type(value)
    if t is str:
        return escape_template(value)
    if t is dict:
        if is_expr(value):
            return "${" + value[EXPR_KEY] + "}"
        return {escape_template(k): json_value(v) for k, v in value.items()}
    if t is list:
        return [json_value(v) for v in value]
    return value
