"""Zip bundle of a design: the Terraform files, the bundled modules it uses, and ``backend.tf``.

Deterministic (sorted entries, fixed timestamps), so the same design gives the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from typing import Literal
from urllib.parse import quote

from app.terraform.blocks import build_config
from app.terraform.canvas import Canvas, CanvasLimits
from app.terraform.catalog import Catalog
from app.terraform.codegen_hcl import render_hcl
from app.terraform.codegen_json import render_json
from app.terraform.hclsyntax import hcl_quote

_EPOCH = (1980, 1, 1, 0, 0, 0)


def backend_tf(base_url: str, org: str, state: str) -> str:
    """A ``backend "http"`` block for Board3's state backend at ``<base_url>/tf/<org>/<state>``."""
    address = f"{base_url.rstrip('/')}/tf/{quote(org, safe='')}/{quote(state, safe='')}"
    lock = f"{address}/lock"
    rows = [
        ("address", hcl_quote(address)),
        ("lock_address", hcl_quote(lock)),
        ("unlock_address", hcl_quote(lock)),
        ("lock_method", '"LOCK"'),
        ("unlock_method", '"UNLOCK"'),
        ("username", '"board3"'),
    ]
    width = max(len(k) for k, _ in rows)
    body = "\n".join(f"    {k.ljust(width)} = {v}" for k, v in rows)
    return (
        "# Board3 keeps this design's state. Set TF_HTTP_PASSWORD to a Board3 API key (never write it\n"
        "# here); the username is not checked.\n"
        "terraform {\n"
        '  backend "http" {\n'
        f"{body}\n"
        "  }\n"
        "}\n"
    )


def build_bundle(
    canvas: Canvas,
    catalog: Catalog,
    *,
    base_url: str,
    org: str,
    state: str,
    fmt: Literal["hcl", "json"] = "hcl",
    limits: CanvasLimits | None = None,
) -> bytes:
    """The zip: ``main.tf`` & co (or ``main.tf.json``), ``backend.tf``, ``modules/<name>/*.tf``."""
    config = build_config(canvas, catalog, limits)
    files: dict[str, bytes] = {}
    if fmt == "json":
        files["main.tf.json"] = render_json(config)
    else:
        files.update({name: text.encode() for name, text in render_hcl(config).items()})
    files["backend.tf"] = backend_tf(base_url, org, state).encode()
    for name in config.modules:
        for fname, text in catalog.modules[name].files.items():
            files[f"modules/{name}/{fname}"] = text.encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[path])
    return buf.getvalue()
