"""Zip bundle of a design: the Terraform files, the bundled modules it uses, ``backend.tf`` and a
``README.md`` that says how to run them (credentials for the state backend, the sandbox provider).

Deterministic (sorted entries, fixed timestamps), so the same design gives the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from typing import Literal
from urllib.parse import quote

from app.sandbox import PROVIDER_SOURCE as SANDBOX_SOURCE
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


def readme(base_url: str, org: str, state: str, providers: dict[str, dict[str, str]]) -> str:
    """How to run the bundle: an API key for the state backend and, only when the design uses the
    sandbox cloud, how to get its provider (no registry serves ``board3.local``: without the local
    mirror ``terraform init`` fails on a DNS lookup of that host)."""
    base = base_url.rstrip("/")
    address = f"{base}/tf/{quote(org, safe='')}/{quote(state, safe='')}"
    sandbox = any(p.get("source") == SANDBOX_SOURCE for p in providers.values())
    others = sorted(p["source"] for p in providers.values() if p.get("source") != SANDBOX_SOURCE)
    lines = [
        "# Terraform exported from Board3",
        "",
        "`backend.tf` keeps this design's state in Board3, at",
        f"`{address}`.",
        "",
        "## 1. An API key for the state backend",
        "",
        "Create one with the `state:read` and `state:write` scopes (shown once), signed in to Board3:",
        "",
        "```sh",
        f"curl -s {base}/api/v1/orgs/{quote(org, safe='')}/api-keys \\",
        '  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\',
        """  -d '{"name": "terraform", "scopes": ["state:read", "state:write"]}'""",
        "```",
        "",
        "Give it to terraform, never write it into `backend.tf`: either",
        "`export TF_HTTP_PASSWORD=b3k_...` before every command, or",
        "`terraform init -backend-config=password=b3k_...` once (terraform then keeps it in",
        "`.terraform/terraform.tfstate`: keep this directory private).",
        "",
    ]
    step = 2
    if sandbox:
        lines += [
            f"## {step}. The sandbox provider",
            "",
            f"This design uses Board3's offline sandbox cloud (`{SANDBOX_SOURCE}`). No registry serves",
            "it, so without the steps below `terraform init` fails on a DNS lookup of `board3.local`.",
            "In this directory, with the same `BOARD3_DATA_DIR` as the server if it was given one:",
            "",
            "```sh",
            "B3=/path/to/board3                          # the Board3 checkout",
            '"$B3/scripts/board3" sandbox install         # once: the provider, in a local mirror',
            'eval "$("$B3/scripts/board3" sandbox env)"   # TF_CLI_CONFIG_FILE, BOARD3_SANDBOX_STORE',
            "```",
            "",
            "`sandbox env` says on stderr which sandbox store terraform will use.",
            "",
        ]
        step += 1
    lines += [
        f"## {step}. Run",
        "",
        "```sh",
        "terraform init",
        "terraform plan",
        "terraform apply",
        "```",
    ]
    if others:
        lines += [
            "",
            "`terraform init` downloads "
            + ", ".join(f"`{s}`" for s in others)
            + " from the Terraform registry (network access needed).",
        ]
    return "\n".join(lines) + "\n"


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
    """The zip: ``main.tf`` & co (or ``main.tf.json``), ``backend.tf``, ``modules/<name>/*.tf`` and
    ``README.md``."""
    config = build_config(canvas, catalog, limits)
    files: dict[str, bytes] = {}
    if fmt == "json":
        files["main.tf.json"] = render_json(config)
    else:
        files.update({name: text.encode() for name, text in render_hcl(config).items()})
    files["backend.tf"] = backend_tf(base_url, org, state).encode()
    files["README.md"] = readme(base_url, org, state, config.required_providers).encode()
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
