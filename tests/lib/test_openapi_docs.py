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


async def _doc(client) -> dict:
    return (await client.get("/schema/openapi.json")).json()


async def test_public_operations_need_no_credentials(client):
    doc = await _doc(client)
    assert doc["security"] == [{"BearerToken": []}]  # the default for everything else
    for path, method in [
        ("/health/live", "get"),
        ("/health/ready", "get"),
        ("/metrics", "get"),
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
    ]:
        assert doc["paths"][path][method]["security"] == [], path
    assert "security" not in doc["paths"]["/api/v1/auth/me"]["get"]
    metrics = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    assert "503" in doc["paths"]["/health/ready"]["get"]["responses"]


async def test_every_api_operation_documents_its_problems(client):
    doc = await _doc(client)
    problem = {"$ref": "#/components/schemas/ProblemDetails"}
    checked = 0
    for path, item in doc["paths"].items():
        if not path.startswith(("/api/", "/tf/")):
            continue
        for method, op in item.items():
            responses = op["responses"]
            for status in ("400", "401", "429", "503"):
                assert responses[status]["content"]["application/problem+json"]["schema"] == problem, (
                    method,
                    path,
                    status,
                )
            if "{" in path:
                assert "404" in responses, (method, path)
            if "requestBody" in op and method != "get":
                assert {"413", "422"} <= set(responses) or path.startswith("/tf/"), (method, path)
            checked += 1
    assert checked >= 60
    patch_design = doc["paths"]["/api/v1/designs/{design_id}"]["patch"]["responses"]
    assert {"403", "404", "409", "412", "413", "422"} <= set(patch_design)
    # An operation's own wording wins over the shared one.
    diff = doc["paths"]["/api/v1/designs/{design_id}/diff"]["get"]["responses"]["422"]
    assert "`from` or `to`" in diff["description"]


async def test_terraform_backend_and_state_downloads_are_json_objects(client):
    doc = await _doc(client)
    tf = doc["paths"]["/tf/{org}/{name}"]
    state = tf["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert state["type"] == "object"
    assert "content" not in tf["get"]["responses"]["204"]
    assert "content" not in tf["post"]["responses"]["200"]
    lock = doc["paths"]["/tf/{org}/{name}/lock"]
    assert "content" not in lock["delete"]["responses"]["200"]  # UNLOCK answers with an empty body
    assert lock["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/LockInfo"
    )
    for op in (tf["post"], lock["post"], lock["delete"]):
        assert {"409", "413", "423"} <= set(op["responses"])
    download = doc["paths"]["/api/v1/orgs/{org}/states/{name}/versions/{serial}"]["get"]
    assert download["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "object"


async def test_the_two_json_exports_cannot_be_mistaken_for_each_other(client):
    doc = await _doc(client)
    export = doc["paths"]["/api/v1/designs/{design_id}/terraform"]["get"]["responses"]["200"]
    main_tf_json, files = export["content"]["application/json"]["schema"]["oneOf"]
    assert main_tf_json["additionalProperties"] is False
    assert {"resource", "terraform"} <= set(main_tf_json["properties"])
    files_schema = doc["components"]["schemas"][files["$ref"].rsplit("/", 1)[1]]
    assert not set(files_schema["required"]) & set(main_tf_json["properties"])


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/tf/acme/network/lock", {"DELETE", "OPTIONS", "POST"}),
        ("/tf/acme/network", {"GET", "OPTIONS", "POST"}),
        ("/api/v1/designs/5f0c2a52-7d6d-4b43-9f5e-0a3b9a3c2b11", {"DELETE", "GET", "OPTIONS", "PATCH"}),
    ],
)
async def test_options_lists_every_method_of_the_path(client, path, methods):
    r = await client.options(path)
    assert r.status_code == 204
    assert {m.strip() for m in r.headers["allow"].split(",")} == methods
