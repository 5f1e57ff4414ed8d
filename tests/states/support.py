"""Helpers for state tests: valid state documents, basic-auth headers, reading rows back."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

LINEAGE = "11111111-2222-3333-4444-555555555555"


def state_doc(
    serial: int = 1,
    lineage: str = LINEAGE,
    resources: int = 1,
    outputs: dict[str, Any] | None = None,
    marker: str = "",
    version: int = 4,
) -> bytes:
    """A Terraform 1.x state with ``resources`` terraform_data resources (``marker`` in each)."""
    doc = {
        "version": version,
        "terraform_version": "1.11.4",
        "serial": serial,
        "lineage": lineage,
        "outputs": outputs or {},
        "resources": [
            {
                "mode": "managed",
                "type": "terraform_data",
                "name": f"r{i}",
                "provider": 'provider["terraform.io/builtin/terraform"]',
                "instances": [
                    {
                        "schema_version": 0,
                        "attributes": {
                            "id": str(uuid.uuid4()),
                            "input": {"value": marker or f"v{i}", "type": "string"},
                            "output": {"value": marker or f"v{i}", "type": "string"},
                            "triggers_replace": None,
                        },
                        "sensitive_attributes": [],
                    }
                ],
            }
            for i in range(resources)
        ],
        "check_results": None,
    }
    return json.dumps(doc, indent=2).encode()


def basic(key: str, user: str = "terraform") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def md5_header(body: bytes) -> dict[str, str]:
    return {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}


def lock_info(
    lock_id: str | None = None, operation: str = "OperationTypeApply", who: str = "me@host"
) -> dict:
    return {
        "ID": lock_id or str(uuid.uuid4()),
        "Operation": operation,
        "Info": "",
        "Who": who,
        "Version": "1.11.4",
        "Created": "2026-01-01T00:00:00Z",
        "Path": "",
    }


def unique(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
