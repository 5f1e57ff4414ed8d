"""Files a run writes next to the design's configuration: the backend pointing at Board3's own
state backend, and the pipeline's Terraform variables. Pure: data in, file contents out.

The backend carries no password: the run's token reaches terraform as ``TF_HTTP_PASSWORD``, so it
is never written to a file (``init`` would copy a configured password into ``.terraform/``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Protocol
from urllib.parse import quote

import msgspec

BACKEND_FILE = "board3_backend.tf.json"
TFVARS_JSON = "board3.auto.tfvars.json"
TFVARS_HCL = "board3_hcl.auto.tfvars"


class Variable(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def hcl(self) -> bool: ...
    @property
    def value(self) -> str: ...


def backend_file(base_url: str, org: str, state: str) -> bytes:
    address = f"{base_url.rstrip('/')}/tf/{quote(org, safe='')}/{quote(state, safe='')}"
    config = {
        "terraform": {
            "backend": {
                "http": {
                    "address": address,
                    "lock_address": f"{address}/lock",
                    "unlock_address": f"{address}/lock",
                    "lock_method": "LOCK",
                    "unlock_method": "UNLOCK",
                    "username": "board3-run",
                    "retry_max": 3,
                }
            }
        }
    }
    return msgspec.json.format(msgspec.json.encode(config), indent=2) + b"\n"


def variable_files(variables: Iterable[Variable]) -> dict[str, bytes]:
    """``*.auto.tfvars`` files for the Terraform-category variables: strings as JSON, HCL values as
    HCL (each value was checked to be exactly one expression when it was stored)."""
    plain: dict[str, str] = {}
    hcl_lines: list[str] = []
    for v in sorted(variables, key=lambda v: v.key):
        if v.category != "terraform":
            continue
        if v.hcl:
            hcl_lines.append(f"{v.key} = {v.value}\n")
        else:
            plain[v.key] = v.value
    files: dict[str, bytes] = {}
    if plain:
        files[TFVARS_JSON] = json.dumps(plain, indent=2, sort_keys=True).encode() + b"\n"
    if hcl_lines:
        files[TFVARS_HCL] = "".join(hcl_lines).encode()
    return files
