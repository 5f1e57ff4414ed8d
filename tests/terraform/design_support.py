"""Designs for the HTTP tests of validate, export, diagram and import (canvases as JSON documents)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from app.terraform.samples import offline_design
from tests.designs.helpers import create_design
from tests.support.api import Account

HOSTILE = '${file("/etc/passwd")}'


def data_node(node_id: str, name: str | None = None, **properties: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "terraform_data", "name": name or node_id, "properties": properties}


def offline_canvas(n: int = 8, module: bool = True) -> dict[str, Any]:
    """terraform_data nodes in layers, a variable, outputs, hostile text and (``module``) a bundled module."""
    canvas: dict[str, Any] = msgspec.to_builtins(offline_design(n))
    canvas["nodes"] += [
        data_node(
            "hostile", "hostile", input={"text": HOSTILE, HOSTILE: "key", "tmpl": "%{ if true }x%{ endif }"}
        ),
        {"id": "o-h", "type": "output", "name": "hostile"},
        {"id": "lbl", "type": "module.label", "name": "naming", "properties": {"name": "web"}},
    ]
    canvas["edges"] += [
        {"source": "o-h", "target": "hostile", "attribute": "output"},
        {"source": "lbl", "target": "hostile", "attribute": "depends_on"},
    ]
    if not module:
        canvas["nodes"] = [n for n in canvas["nodes"] if n["id"] != "lbl"]
        canvas["edges"] = [e for e in canvas["edges"] if e["source"] != "lbl"]
    return canvas


def invalid_canvas() -> dict[str, Any]:
    """An unknown type, a subnet without its VPC, a bad name and a three-node cycle."""
    return {
        "nodes": [
            {"id": "bogus", "type": "aws_nope", "name": "x"},
            {"id": "sub", "type": "aws_subnet", "name": "a", "properties": {"cidr_block": "10.0.0.0/24"}},
            data_node("bad-name", "1st"),
            data_node("a"),
            data_node("b"),
            data_node("c"),
        ],
        "edges": [
            {"source": "a", "target": "b", "attribute": "depends_on"},
            {"source": "b", "target": "c", "attribute": "depends_on"},
            {"source": "c", "target": "a", "attribute": "depends_on"},
        ],
    }


def vpc_design() -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "vpc", "type": "aws_vpc", "name": "main", "properties": {"cidr_block": "10.0.0.0/16"}},
            {
                "id": "sn",
                "type": "aws_subnet",
                "name": "app",
                "properties": {"cidr_block": "10.0.1.0/24"},
                "parent": "vpc",
            },
            {"id": "out", "type": "output", "name": "vpc_id"},
        ],
        "edges": [
            {"source": "sn", "target": "vpc", "attribute": "vpc_id"},
            {"source": "out", "target": "vpc", "attribute": "id"},
        ],
    }


async def design_with(client: Any, account: Account, canvas: dict[str, Any] | None, **fields: Any) -> str:
    fields.setdefault("name", f"tf-{uuid.uuid4().hex[:8]}")
    return str((await create_design(client, account, canvas, **fields))["id"])


async def share(
    client: Any, owner: Account, design_id: str, guest: Account, permission: str = "view"
) -> None:
    r = await client.post(
        f"/api/v1/designs/{design_id}/shares",
        json={"email": guest.email, "permission": permission},
        headers=owner.headers,
    )
    assert r.status_code in (200, 201), r.text
