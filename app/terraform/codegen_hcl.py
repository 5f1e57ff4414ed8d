"""HCL rendering of a design, formatted the way ``terraform fmt`` leaves it.

Same meaning as the JSON rendering (tests parse both back and compare). Formatting rules that
``terraform fmt`` enforces and we follow: two-space indentation; ``=`` aligned across consecutive
single-line attributes; an attribute whose value spans lines stands alone.
"""

from __future__ import annotations

from typing import Any

from app.terraform.blocks import Block, Body, Config, build_config
from app.terraform.canvas import Canvas, CanvasLimits
from app.terraform.catalog import Catalog
from app.terraform.hclsyntax import EXPR_KEY, hcl_key, hcl_quote, is_expr

INDENT = "  "
FILES = {"provider": "versions.tf", "variable": "variables.tf", "output": "outputs.tf"}


def generate_hcl(canvas: Canvas, catalog: Catalog, limits: CanvasLimits | None = None) -> dict[str, str]:
    """``.tf`` files for a design: versions.tf, variables.tf, main.tf, outputs.tf (non-empty ones)."""
    return render_hcl(build_config(canvas, catalog, limits))


def render_hcl(config: Config) -> dict[str, str]:
    chunks: dict[str, list[str]] = {}
    if config.required_providers:
        lines = ["terraform {", f"{INDENT}required_providers {{"]
        for name, spec in config.required_providers.items():
            lines.append(f"{INDENT * 2}{hcl_key(name)} = {{")
            lines.extend(_attr_lines(spec, 3))
            lines.append(f"{INDENT * 2}}}")
        lines += [f"{INDENT}}}", "}"]
        chunks.setdefault("versions.tf", []).append("\n".join(lines))
    for block in config.blocks:
        fname = FILES.get(block.kind, "main.tf")
        chunks.setdefault(fname, []).append(_block(block))
    return {name: "\n\n".join(parts) + "\n" for name, parts in sorted(chunks.items())}


def _block(block: Block) -> str:
    header = block.kind + "".join(f" {hcl_quote(label)}" for label in block.labels)
    return "\n".join(_block_lines(header, block.body, 0, raw_type=block.kind == "variable"))


def _block_lines(header: str, body: Body, depth: int, *, raw_type: bool = False) -> list[str]:
    pad = INDENT * depth
    inner = _attr_lines(body.attrs, depth + 1, raw_type=raw_type)
    for name, sub in body.blocks:
        inner.extend(_block_lines(name, sub, depth + 1))
    if not inner:
        return [f"{pad}{header} {{}}"]
    return [f"{pad}{header} {{", *inner, f"{pad}}}"]


def _attr_lines(
    attrs: dict[str, Any], depth: int, *, raw_type: bool = False, keys: bool = False
) -> list[str]:
    """``name = value`` lines with ``=`` aligned over runs of single-line values."""
    pad = INDENT * depth
    rendered: list[tuple[str, list[str]]] = []
    for name, value in attrs.items():
        key = hcl_key(name) if keys else name
        if raw_type and name == "type" and isinstance(value, str):
            rendered.append((key, [value]))
        else:
            rendered.append((key, _value_lines(value, depth)))
    out: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(k) for k, _ in run), default=0)
        out.extend(f"{pad}{k.ljust(width)} = {v}" for k, v in run)
        run.clear()

    for key, lines in rendered:
        if len(lines) == 1:
            run.append((key, lines[0]))
            continue
        flush()
        out.append(f"{pad}{key} = {lines[0]}")
        out.extend(lines[1:])
    flush()
    return out


def _value_lines(value: Any, depth: int) -> list[str]:
    """A value as HCL: one line, or several (the first continues the ``key =`` line)."""
    t = type(value)
    if value is None:
        return ["null"]
    if t is bool:
        return ["true" if value else "false"]
    if t is int or t is float:
        return [repr(value)]
    if t is str:
        return [hcl_quote(value)]
    if t is dict:
        if is_expr(value):
            return [value[EXPR_KEY]]
        if not value:
            return ["{}"]
        pad = INDENT * depth
        return ["{", *_attr_lines(value, depth + 1, keys=True), f"{pad}}}"]
    if t is list:
        if not value:
            return ["[]"]
        if all(type(v) is not list and (type(v) is not dict or is_expr(v)) for v in value):
            return ["[" + ", ".join(_value_lines(v, depth)[0] for v in value) + "]"]
        pad = INDENT * (depth + 1)
        lines = ["["]
        for v in value:
            sub = _value_lines(v, depth + 1)
            lines.append(pad + sub[0] + ("," if len(sub) == 1 else ""))
            if len(sub) > 1:
                lines.extend(sub[1:-1])
                lines.append(sub[-1] + ",")
        lines.append(INDENT * depth + "]")
        return lines
    raise TypeError(f"cannot render {t.__name__} as HCL")
