"""Bad input is a clear 4xx problem+json naming the field: never a 500, nothing stored."""

from __future__ import annotations

import json

import pytest

from tests.support.api import PASSWORD, assert_problem, unique_email

REGISTER = "/api/v1/auth/register"


def _valid() -> dict:
    return {"email": unique_email("bad"), "password": PASSWORD, "name": "Bad Input"}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"", 400, None),
        (b"[]", 422, None),
        (b"null", 422, None),
        (b'"a string"', 422, None),
        (b"\xff\xfe\x00garbage", 400, None),
        (json.dumps(_valid() | {"is_admin": True}).encode(), 422, "is_admin"),
        (json.dumps(_valid() | {"email": 12}).encode(), 422, "email"),
        (json.dumps(_valid() | {"email": None}).encode(), 422, "email"),
        (json.dumps(_valid() | {"name": "x" * 10_000}).encode(), 422, "name"),
        (json.dumps(_valid() | {"password": "p" * 5_000}).encode(), 422, "password"),
        (json.dumps(_valid() | {"email": "a@" + "b" * 400 + ".com"}).encode(), 422, "email"),
        (json.dumps(_valid() | {"email": "no-at-sign.example.com"}).encode(), 422, "email"),
        (json.dumps(_valid() | {"email": "two@@example.com"}).encode(), 422, "email"),
        (json.dumps(_valid() | {"organization": ""}).encode(), 422, "organization"),
        (json.dumps(_valid() | {"name": "Ada\u0000"}).encode(), 422, "name"),  # PostgreSQL text refuses NUL
        (json.dumps(_valid() | {"organization": "\u0000"}).encode(), 422, "organization"),
        (json.dumps({"email": unique_email(), "password": PASSWORD}).encode(), 422, "name"),
        (b"[" * 100_000 + b"]" * 100_000, 400, None),
    ],
    # Stable ids (bodies hold random emails): every `pytest -n` process must collect the same tests.
    ids=lambda v: v if isinstance(v, (int, str)) or v is None else f"body-{len(v)}",
)
async def test_register_rejects_bad_bodies(client, body, status, field):
    from app.accounts.tables import User

    before = await User.count()
    r = await client.post(REGISTER, content=body, headers={"Content-Type": "application/json"})
    assert_problem(r, status, field)
    assert await User.count() == before


async def test_nul_characters_are_refused_naming_the_field_not_a_server_error(client, api):
    owner = await api.register("nul")
    r = await client.patch(f"/api/v1/orgs/{owner.org_slug}", json={"name": "a\u0000b"}, headers=owner.headers)
    body = assert_problem(r, 422, "name")
    assert "NUL" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/orgs/a%00b", "path.org"),
        ("/api/v1/orgs/{org}/designs?q=a%00", "query.q"),
        ("/api/v1/templates?tag=%00", "query.tag"),
        ("/api/v1/templates/a%00b", "path.template_ref"),
        ("/api/v1/orgs/{org}/audit-logs?action=x%00", "query.action"),
    ],
)
async def test_nul_in_a_path_or_query_value_is_400_naming_it(client, api, url, field):
    """PostgreSQL text cannot hold U+0000: such a value never reaches a query (it was a 500)."""
    owner = await api.register("nulq")
    r = await client.get(url.format(org=owner.org_slug), headers=owner.headers)
    assert_problem(r, 400, field)


async def test_oversize_body_is_413_naming_the_limit_and_its_setting(client):
    big = json.dumps(_valid() | {"name": "x" * (6 * 1024 * 1024)}).encode()
    body = assert_problem(
        await client.post(REGISTER, content=big, headers={"Content-Type": "application/json"}), 413
    )
    limit = 5 * 1024 * 1024
    assert (body["limit"], body["setting"]) == (limit, "BOARD3_MAX_BODY_BYTES")
    assert f"limit of {limit} bytes" in body["detail"] and "BOARD3_MAX_BODY_BYTES" in body["detail"]


async def test_unknown_route_and_wrong_method_are_problems(client, api):
    account = await api.register("routes")
    assert_problem(await client.get("/api/v1/no-such-thing", headers=account.headers), 404)
    assert_problem(await client.put("/api/v1/auth/me", headers=account.headers), 405)
    r = await client.delete("/api/v1/auth/sessions/not-a-uuid", headers=account.headers)
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_request_id_is_echoed_or_generated(client):
    r = await client.get("/health/live", headers={"X-Request-ID": "client-chosen-id-42"})
    assert r.headers["X-Request-ID"] == "client-chosen-id-42"
    r = await client.get("/health/live", headers={"X-Request-ID": "bad id with spaces\n"})
    generated = r.headers["X-Request-ID"]
    assert generated != "bad id with spaces\n" and len(generated) == 32
    r = await client.post(REGISTER, content=b"{", headers={"Content-Type": "application/json"})
    assert len(r.headers["X-Request-ID"]) == 32


async def test_errors_never_echo_secrets(client, api):
    account = await api.register("secrets")
    r = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": "hunter2-wrong-pass"}
    )
    assert "hunter2" not in r.text
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token + "x"})
    assert account.refresh_token not in r.text
