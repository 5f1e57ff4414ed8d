"""Health, metrics and the OpenAPI document."""

from __future__ import annotations

import logging
import uuid


async def test_live_and_ready(client):
    assert (await client.get("/health/live")).json() == {"status": "ok", "checks": []}
    ready = (await client.get("/health/ready")).json()
    checks = {c["name"]: c for c in ready["checks"]}
    assert ready["status"] == "ok" and checks["database"]["ok"]
    assert checks["terraform"]["fatal"] is False and "1." in checks["terraform"]["detail"]
    from app.config import get_settings

    assert ("redis" in checks) == (get_settings().redis.url is not None)


def _sample(text: str, line_start: str) -> float:
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start)]
    return values[0] if values else 0.0


async def test_metrics_count_requests_by_route_and_status(client, api):
    live = 'board3_requests_total{method="GET",path="/health/live",status_code="200"}'
    me = 'board3_requests_total{method="GET",path="/api/v1/auth/me",status_code="401"}'
    design = 'board3_requests_total{method="GET",path="/api/v1/designs/{design_id}",status_code="404"}'
    unrouted = 'board3_requests_total{method="GET",path="<unmatched>",status_code="404"}'
    odd = 'board3_requests_total{method="OTHER",path="<unmatched>",status_code="404"}'
    before = (await client.get("/metrics")).text
    for _ in range(3):
        await client.get("/health/live")
    await client.get("/api/v1/auth/me")  # refused by the auth middleware
    await client.get(f"/no/such/{uuid.uuid4()}")
    await client.request("BREW", "/no/such/pot")
    account = await api.register("metrics")
    r = await client.get("/api/v1/designs/00000000-0000-0000-0000-000000000000", headers=account.headers)
    assert r.status_code == 404
    text = (await client.get("/metrics")).text
    assert _sample(text, live) - _sample(before, live) == 3
    assert _sample(text, me) - _sample(before, me) == 1  # its real status, not 500 or 200
    assert _sample(text, design) - _sample(before, design) == 1  # the route template, not the id
    assert _sample(text, unrouted) - _sample(before, unrouted) == 1
    assert _sample(text, odd) - _sample(before, odd) == 1  # label values stay bounded
    assert "00000000-0000" not in text and "/no/such" not in text and "BREW" not in text
    assert 'board3_request_duration_seconds_bucket{le="0.005",method="GET",path="/health/live"' in text
    assert "board3_requests_in_progress 1.0" in text  # the scrape being answered
    assert 'path="/metrics"' not in text  # the scrape itself is not counted


async def test_every_response_carries_a_request_id_and_an_access_log_line(client, caplog):
    """Also responses made from exceptions raised in middleware, and unrouted paths."""
    with caplog.at_level(logging.INFO, logger="board3.access"):
        refused = await client.get("/api/v1/auth/me", headers={"X-Request-ID": "refused-req-0001"})
        unrouted = await client.get("/no/such/route")
    assert (refused.status_code, refused.headers["X-Request-ID"]) == (401, "refused-req-0001")
    assert unrouted.status_code == 404 and len(unrouted.headers["X-Request-ID"]) == 32
    lines = {(r.path, r.status) for r in caplog.records if r.name == "board3.access"}  # type: ignore[attr-defined]
    assert {("/api/v1/auth/me", 401), ("/no/such/route", 404)} <= lines


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
