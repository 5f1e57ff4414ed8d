"""The OpenAPI document describes what the server answers before any handler runs: 401, 429 and
503 (Redis unreachable, or the body bound) on every authenticated route, and the sign-in routes'
429 and 503."""

from __future__ import annotations


async def test_authenticated_routes_document_401_429_and_503(client):
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    for path, method in (
        ("/api/v1/auth/me", "get"),
        ("/api/v1/orgs/{org}/designs", "post"),
        ("/tf/{org}/{name}", "post"),
        ("/tf/{org}/{name}/lock", "post"),
    ):
        responses = paths[path][method]["responses"]
        assert {"401", "429", "503"} <= set(responses), (path, method, sorted(responses))
        assert "application/problem+json" in responses["503"]["content"]
    assert {"403", "404", "409", "413", "423"} <= set(paths["/tf/{org}/{name}"]["post"]["responses"])
    for path in ("/api/v1/auth/login", "/api/v1/auth/register", "/api/v1/auth/refresh"):
        assert {"429", "503"} <= set(paths[path]["post"]["responses"]), path
    assert "503" not in paths["/health/live"]["get"]["responses"]
