"""Bundled modules (``terraform_modules/<name>/*.tf``): their inputs and outputs, read from HCL text.

Pure: takes the files' text (read once by the catalog loader) and returns a ModuleSpec.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.terraform.catalog_types import CatalogError, ModuleInput, ModuleSpec
from app.terraform.hclsyntax import (
    ExpressionError,
    HclSyntaxError,
    parse_hcl,
    split_template,
    unwrap_interpolation,
)


def _labelled(blocks: Any) -> list[tuple[str, dict[str, Any]]]:
    """``[{'"name"': {...}}, ...]`` as python-hcl2 gives labelled blocks -> ``[(name, body)]``."""
    out = []
    for block in blocks or []:
        for label, body in block.items():
            out.append((label.strip('"'), body))
    return out


def _text(raw: Any) -> str:
    if isinstance(raw, str) and raw.startswith('"'):
        try:
            literal = split_template(raw, quoted=True).literal
        except ExpressionError:
            literal = None
        return literal if literal is not None else raw
    return "" if raw is None else str(raw)


def module_spec(name: str, files: Mapping[str, str]) -> ModuleSpec:
    """Read a module's variables, outputs and required providers from its ``.tf`` files."""
    inputs: dict[str, ModuleInput] = {}
    outputs: dict[str, str] = {}
    providers: set[str] = set()
    description = ""
    for fname in sorted(files):
        text = files[fname]
        if not description:
            first = text.lstrip().splitlines()[0] if text.strip() else ""
            if first.startswith("#"):
                description = first.lstrip("#").strip()
        try:
            doc = parse_hcl(text)
        except HclSyntaxError as exc:
            raise CatalogError(f"module {name}: {fname} does not parse: {exc}") from None
        for vname, body in _labelled(doc.get("variable")):
            inputs[vname] = ModuleInput(
                type=unwrap_interpolation(str(body.get("type", "any"))),
                required="default" not in body,
                description=_text(body.get("description")),
            )
        for oname, body in _labelled(doc.get("output")):
            outputs[oname] = _text(body.get("description"))
        for tblock in doc.get("terraform") or []:
            for rp in tblock.get("required_providers") or []:
                providers.update(k for k in rp if not k.startswith("__"))
    return ModuleSpec(
        name=name,
        description=description or f"Bundled module {name}",
        inputs=inputs,
        outputs=outputs,
        providers=sorted(providers),
        files=dict(sorted(files.items())),
    )
