"""BOARD3_PUBLIC_URL: the address the zip bundle's backend.tf points at, whatever Host a request carried."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import hcl2
import httpx
import pytest

from app.designs.exports import backend_base_url
from tests.terraform.design_support import data_node, design_with


def zip_url(design_id: str) -> str:
    return f"/api/v1/designs/{design_id}/terraform?format=zip"


def backend_tf(zip_bytes: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        return zf.read("backend.tf").decode()


@pytest.mark.parametrize(
    ("public_url", "request_base_url", "expected"),
    [
        (None, "http://testserver.local/", "http://testserver.local"),
        (None, "http://10.0.0.5:8000", "http://10.0.0.5:8000"),
        ("https://board3.example.com", "http://10.0.0.5:8000/", "https://board3.example.com"),
        ("https://board3.example.com/b3", "http://internal/", "https://board3.example.com/b3"),
    ],
)
def test_public_url_wins_over_the_request_base_url(public_url, request_base_url, expected):
    assert backend_base_url(public_url, request_base_url) == expected


async def test_zip_backend_uses_the_public_url_not_the_host_header(client, api):
    from app.config import get_settings
    from app.main import create_app

    owner = await api.register("puburl")
    design_id = await design_with(client, owner, {"nodes": [data_node("a")], "edges": []})
    settings = get_settings()
    public = "https://board3.example.com/b3"
    app = create_app(
        dataclasses.replace(settings, server=dataclasses.replace(settings.server, public_url=public))
    )
    # No lifespan of its own: the session client's already holds the shared database pool open.
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://internal.local:8000") as proxied:
            r = await proxied.get(
                zip_url(design_id), headers={**owner.headers, "Host": "rewritten.by.proxy:9000"}
            )
    finally:
        if app.state.redis is not None:
            await app.state.redis.aclose()
    assert r.status_code == 200, r.text
    backend = hcl2.loads(backend_tf(r.content))["terraform"][0]["backend"][0]['"http"']
    address = f"{public}/tf/{owner.org_slug}/design-{design_id}"
    assert backend["address"] == f'"{address}"'
    assert backend["lock_address"] == backend["unlock_address"] == f'"{address}/lock"'
    # Without the setting the same request still follows the Host header.
    plain = await client.get(zip_url(design_id), headers={**owner.headers, "Host": "rewritten.by.proxy:9000"})
    assert f'"http://rewritten.by.proxy:9000/tf/{owner.org_slug}/design-{design_id}"' in backend_tf(
        plain.content
    )
