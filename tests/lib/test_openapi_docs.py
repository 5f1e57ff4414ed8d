"""The documentation pages work offline: every script, style sheet and icon they load is served by
Board3 itself, without authentication, from the pinned package."""

from __future__ import annotations

import re

import pytest
from openapi_ui_bundles import redoc, swagger_ui

_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


@pytest.mark.parametrize(
    ("page", "viewer_script"),
    [("/schema", "redoc.standalone.js"), ("/schema/swagger", "swagger-ui-bundle.js")],
)
async def test_doc_pages_load_only_local_assets(client, page, viewer_script):
    r = await client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    references = _REFERENCE.findall(r.text)
    assert any(u.endswith(viewer_script) for u in references), references
    remote = [u for u in references if not u.startswith("/") or u.startswith("//")]
    assert remote == []
    assert "googleapis" not in r.text and "cdn." not in r.text
    for url in references:
        asset = await client.get(url)  # no Authorization header: the pages are public
        assert asset.status_code == 200, url
        assert asset.content, url
        if url.endswith(".js"):
            assert "javascript" in asset.headers["content-type"]
        elif url.endswith(".css"):
            assert asset.headers["content-type"].startswith("text/css")


async def test_assets_are_the_packaged_files_and_nothing_else(client):
    served = await client.get("/schema/assets/redoc/redoc.standalone.js")
    assert served.content == (redoc.static_path / "redoc.standalone.js").read_bytes()
    served = await client.get("/schema/assets/swagger-ui/swagger-ui.css")
    assert served.content == (swagger_ui.static_path / "swagger-ui.css").read_bytes()
    assert (await client.get("/schema/assets/redoc/missing.js")).status_code == 404


async def test_the_openapi_document_is_public_json(client):
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    assert r.json()["openapi"].startswith("3.1")
