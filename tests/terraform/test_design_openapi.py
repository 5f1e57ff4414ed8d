"""The OpenAPI document describes the design Terraform routes: both import bodies, every media type."""

from __future__ import annotations


async def test_design_routes_are_documented(client):
    doc = (await client.get("/schema/openapi.json")).json()
    paths = doc["paths"]
    validate = paths["/api/v1/designs/{design_id}/validate"]["post"]
    export = paths["/api/v1/designs/{design_id}/terraform"]["get"]
    diagram = paths["/api/v1/designs/{design_id}/diagram.svg"]["get"]
    import_ = paths["/api/v1/orgs/{org}/designs/import"]["post"]
    for op in (validate, export, diagram, import_):
        assert op["summary"] and op["description"] and op["tags"] == ["terraform"]

    assert validate["requestBody"]["required"] is False  # the stored version needs no body
    assert validate["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/DesignValidation"
    )

    ok = export["responses"]["200"]["content"]
    assert set(ok) == {"application/json", "application/zip"}
    assert ok["application/zip"]["schema"] == {"type": "string", "format": "binary"}
    assert any(
        s.get("$ref", "").endswith("/TerraformFiles") for s in ok["application/json"]["schema"]["oneOf"]
    )
    invalid = export["responses"]["422"]["content"]["application/problem+json"]["schema"]["$ref"]
    problem = doc["components"]["schemas"][invalid.rsplit("/", 1)[1]]
    assert "problems" in problem["properties"]
    assert {p["name"] for p in export["parameters"]} >= {"format", "version", "If-None-Match"}

    assert set(diagram["responses"]["200"]["content"]) == {"image/svg+xml"}
    assert {p["name"] for p in diagram["parameters"]} >= {"version", "highlight"}

    body = import_["requestBody"]
    assert body["required"] is True
    assert set(body["content"]) == {"application/json", "multipart/form-data"}
    as_json = body["content"]["application/json"]["schema"]
    assert as_json["required"] == ["name"] and {"files", "state"} <= set(as_json["properties"])
    form = body["content"]["multipart/form-data"]["schema"]["properties"]
    assert form["files"]["items"]["format"] == "binary" and form["state"]["format"] == "binary"
    created = import_["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    imported = doc["components"]["schemas"][created.rsplit("/", 1)[1]]
    assert {"warnings", "source", "canvas", "id"} <= set(imported["properties"])
    assert {"413", "415", "422"} <= set(import_["responses"])
