"""Canvas builders and small API helpers for the design tests."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.api import Account


def node(node_id: str, type_: str = "aws_vpc", name: str | None = None, **properties: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": type_,
        "name": name or node_id.replace("-", "_"),
        "properties": properties,
        "position": {"x": 10.0, "y": 20.0},
    }


def vpc_canvas(subnets: int = 2) -> dict[str, Any]:
    """A VPC with subnets inside it (edges subnet -> vpc set vpc_id)."""
    nodes = [node("vpc", "aws_vpc", "main", cidr_block="10.0.0.0/16")]
    edges = []
    for i in range(subnets):
        sid = f"subnet-{i}"
        nodes.append({**node(sid, "aws_subnet", f"s{i}", cidr_block=f"10.0.{i}.0/24"), "parent": "vpc"})
        edges.append({"source": sid, "target": "vpc", "attribute": "vpc_id"})
    return {"nodes": nodes, "edges": edges}


def big_canvas(n: int) -> dict[str, Any]:
    nodes = [
        node(f"n{i}", "terraform_data", f"d{i}", input={"index": i, "label": f"item {i}"}) for i in range(n)
    ]
    edges = [{"source": f"n{i}", "target": f"n{i - 1}"} for i in range(1, n)]
    return {"nodes": nodes, "edges": edges}


async def create_design(
    client: Any, account: Account, canvas: dict[str, Any] | None = None, **fields: Any
) -> dict:
    body: dict[str, Any] = {"name": fields.pop("name", f"design-{uuid.uuid4().hex[:8]}"), **fields}
    if canvas is not None:
        body["canvas"] = canvas
    r = await client.post(f"/api/v1/orgs/{account.org_slug}/designs", json=body, headers=account.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def save(
    client: Any, account: Account, design_id: str, canvas: dict[str, Any], base: int, message: str = ""
):
    return await client.post(
        f"/api/v1/designs/{design_id}/versions",
        json={"canvas": canvas, "base_version": base, "message": message},
        headers=account.headers,
    )
