"""Helpers for state tests (and bench/state_backend.py): valid state documents, accounts with an
API key on a live server, basic-auth headers, lock info."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.api import PASSWORD, bearer

LINEAGE = "11111111-2222-3333-4444-555555555555"


def state_doc(
    serial: int = 1,
    lineage: str = LINEAGE,
    resources: int = 1,
    outputs: dict[str, Any] | None = None,
    version: int = 4,
    value: Callable[[int], str] = "v{}".format,
) -> bytes:
    """A Terraform 1.x state with ``resources`` terraform_data resources; resource ``i`` holds
    ``value(i)``."""
    texts = [value(i) for i in range(resources)]
    doc = {
        "version": version,
        "terraform_version": "1.11.4",
        "serial": serial,
        "lineage": lineage,
        "outputs": outputs or {},
        "resources": [_terraform_data(f"r{i}", text) for i, text in enumerate(texts)],
        "check_results": None,
    }
    return json.dumps(doc, indent=2).encode()


def _terraform_data(name: str, text: str) -> dict[str, Any]:
    return {
        "mode": "managed",
        "type": "terraform_data",
        "name": name,
        "provider": 'provider["terraform.io/builtin/terraform"]',
        "instances": [
            {
                "schema_version": 0,
                "attributes": {
                    "id": str(uuid.uuid4()),
                    "input": {"value": text, "type": "string"},
                    "output": {"value": text, "type": "string"},
                    "triggers_replace": None,
                },
                "sensitive_attributes": [],
            }
        ],
    }


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


def register_with_key(url: str, tag: str = "states") -> tuple[str, str]:
    """Register a user on the server at ``url``; its organization's slug and a new API key (all
    permissions of the owner)."""
    r = httpx.post(
        f"{url}/api/v1/auth/register",
        json={
            "email": f"{tag}-{uuid.uuid4().hex[:8]}@example.com",
            "password": PASSWORD,
            "name": tag.title(),
            "organization": f"{tag} {uuid.uuid4().hex[:6]}",
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    key = httpx.post(
        f"{url}/api/v1/orgs/{body['organization']['slug']}/api-keys",
        json={"name": tag},
        headers=bearer(body["access_token"]),
    )
    assert key.status_code == 201, key.text
    return body["organization"]["slug"], key.json()["key"]
