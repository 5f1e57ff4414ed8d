"""Health, metrics and the OpenAPI document."""

from __future__ import annotations


async def test_live_and_ready(client):
    assert (await client.get("/health/live")).json() == {"status": "ok", "checks": []}
    ready = (await client.get("/health/ready")).json()
    checks = {c["name"]: c for c in ready["checks"]}
    assert ready["status"] == "ok" and checks["database"]["ok"]
    assert checks["terraform"]["fatal"] is False and "1." in checks["terraform"]["detail"]
    from app.config import get_settings

    assert ("redis" in checks) == (get_settings().redis.url is not None)


async def test_metrics_count_requests_by_route(client):
    await client.get("/health/live")
    await client.get("/api/v1/auth/me")
    text = (await client.get("/metrics")).text
    assert "board3_requests_total" in text
    assert 'path="/health/live"' in text
    assert "board3_request_duration_seconds_bucket" in text


async def test_openapi_documents_every_route(client, app):
    doc = (await client.get("/schema/openapi.json")).json()
    assert doc["info"]["title"] == "Board3 API"
    assert {"BearerToken", "BasicAuth"} <= set(doc["components"]["securitySchemes"])
    operations = [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) >= 25
    undocumented = [f"{m.upper()} {p}" for p, m, op in operations if not op.get("summary")]
    assert undocumented == []
    for path in ("/api/v1/auth/register", "/api/v1/orgs/{org}/members", "/api/v1/orgs/{org}/api-keys"):
        assert path in doc["paths"], path
    register = doc["paths"]["/api/v1/auth/register"]["post"]
    schema_ref = register["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert schema["properties"]["email"]["examples"]
