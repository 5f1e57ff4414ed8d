"""The account flow through HTTP: register, login, me, refresh rotation, reuse detection, sessions."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.api import PASSWORD, assert_problem, bearer, unique_email

SECRET = "test-secret-" + "x" * 40


async def test_register_creates_user_and_owned_org(client, api):
    account = await api.register("reg")
    r = await client.get("/api/v1/auth/me", headers=account.headers)
    assert r.status_code == 200
    me = r.json()
    assert me["kind"] == "user"
    assert me["user"]["email"] == account.email
    assert [(o["slug"], o["role"]) for o in me["organizations"]] == [(account.org_slug, "owner")]
    assert "password" not in r.text and "password_hash" not in r.text


async def test_register_default_org_name_and_duplicate_email(client):
    email = unique_email("dup")
    r = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "Grace"}
    )
    assert r.status_code == 201
    assert r.json()["organization"]["name"] == "Grace's organization"
    r = await client.post(
        "/api/v1/auth/register", json={"email": email.upper(), "password": PASSWORD, "name": "Grace"}
    )
    assert_problem(r, 409, "email")


async def test_register_names_every_failing_field_at_once(client):
    r = await client.post(
        "/api/v1/auth/register", json={"email": "not-an-address", "password": "short", "name": "  "}
    )
    body = assert_problem(r, 422)
    assert [e["field"] for e in body["errors"]] == ["email", "password", "name"]
    assert body["detail"] == "invalid value for email, password, name"


async def test_password_policy_and_email_validation(client):
    r = await client.post(
        "/api/v1/auth/register", json={"email": unique_email(), "password": "short", "name": "A"}
    )
    assert_problem(r, 422, "password")
    r = await client.post(
        "/api/v1/auth/register", json={"email": "not-an-email", "password": PASSWORD, "name": "A"}
    )
    assert_problem(r, 422, "email")


async def test_login_errors_do_not_reveal_accounts(client, api):
    account = await api.register("login")
    wrong_password = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": "wrong password here"}
    )
    no_such_user = await client.post(
        "/api/v1/auth/login", json={"email": unique_email("ghost"), "password": "wrong password here"}
    )
    a = assert_problem(wrong_password, 401)
    b = assert_problem(no_such_user, 401)
    assert (a["type"], a["title"], a["detail"]) == (b["type"], b["title"], b["detail"])
    tokens = await api.login(account.email.upper())
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0


async def test_refresh_rotates_and_reuse_revokes_the_session(client, api):
    account = await api.register("rotate")
    r1 = await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    assert r1.status_code == 200
    first = r1.json()
    assert first["refresh_token"] != account.refresh_token
    assert (await client.get("/api/v1/auth/me", headers=bearer(first["access_token"]))).status_code == 200

    # The old refresh token comes back: somebody copied it. The whole session ends.
    stolen = await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    assert_problem(stolen, 401)
    # ...including the legitimate holder's newest tokens.
    assert_problem(
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401
    )
    assert_problem(await client.get("/api/v1/auth/me", headers=bearer(first["access_token"])), 401)
    assert_problem(await client.get("/api/v1/auth/me", headers=account.headers), 401)
    # Other sessions of the same user are not affected.
    fresh = await api.login(account.email)
    assert (await client.get("/api/v1/auth/me", headers=bearer(fresh["access_token"]))).status_code == 200


async def test_refresh_with_garbage_is_401(client):
    for token in ("b3r_nonsense", "eyJhbGciOi.x.y", "x" * 300):
        assert_problem(await client.post("/api/v1/auth/refresh", json={"refresh_token": token}), 401)


async def test_logout_kills_access_and_refresh_tokens(client, api):
    account = await api.register("logout")
    r = await client.post("/api/v1/auth/logout", headers=account.headers)
    assert r.status_code == 204
    assert_problem(await client.get("/api/v1/auth/me", headers=account.headers), 401)
    assert_problem(
        await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}), 401
    )


async def test_sessions_list_and_revoke_invalidates_live_token(client, api):
    account = await api.register("sessions")
    second = await api.login(account.email)
    r = await client.get("/api/v1/auth/sessions", headers=account.headers)
    assert r.status_code == 200
    sessions = r.json()
    assert len(sessions) == 2
    assert sum(s["current"] for s in sessions) == 1
    other = next(s for s in sessions if not s["current"])
    r = await client.delete(f"/api/v1/auth/sessions/{other['id']}", headers=account.headers)
    assert r.status_code == 204
    assert_problem(await client.get("/api/v1/auth/me", headers=bearer(second["access_token"])), 401)
    assert (await client.get("/api/v1/auth/me", headers=account.headers)).status_code == 200


async def test_cannot_revoke_someone_elses_session(client, api):
    alice = await api.register("alice")
    bob = await api.register("bob")
    bobs = (await client.get("/api/v1/auth/sessions", headers=bob.headers)).json()
    r = await client.delete(f"/api/v1/auth/sessions/{bobs[0]['id']}", headers=alice.headers)
    assert_problem(r, 404)
    assert (await client.get("/api/v1/auth/me", headers=bob.headers)).status_code == 200


def _claims(account) -> dict:
    return jwt.decode(account.access_token, options={"verify_signature": False})


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_expired_tampered_and_forged_tokens_are_refused(client, api):
    account = await api.register("jwt")
    claims = _claims(account)
    now = dt.datetime.now(dt.UTC)

    expired = jwt.encode(claims | {"exp": int((now - dt.timedelta(minutes=1)).timestamp())}, SECRET, "HS256")
    header, payload, signature = account.access_token.split(".")
    tampered_payload = _b64(claims | {"sub": str(uuid.uuid4())})
    tampered = f"{header}.{tampered_payload}.{signature}"
    alg_none = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    wrong_secret = jwt.encode(claims, "another-secret-" + "y" * 40, "HS256")
    hs512 = jwt.encode(claims, SECRET, "HS512")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rs256 = jwt.encode(claims, key, "RS256")
    # HS/RS confusion: sign HS256 with a public key as if it were the shared secret.
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    confused = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{payload}." + base64.urlsafe_b64encode(
        __import__("hmac")
        .new(public_pem, f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{payload}".encode(), "sha256")
        .digest()
    ).decode().rstrip("=")
    no_sid = jwt.encode({k: v for k, v in claims.items() if k != "extras"}, SECRET, "HS256")

    for token in (expired, tampered, alg_none, wrong_secret, hs512, rs256, confused, no_sid, "garbage"):
        assert_problem(await client.get("/api/v1/auth/me", headers=bearer(token)), 401)
    assert (await client.get("/api/v1/auth/me", headers=account.headers)).status_code == 200


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Token abc", "Basic dXNlcjpwYXNz"])
async def test_missing_or_unsupported_credentials(client, header):
    r = await client.get("/api/v1/auth/me", headers={"Authorization": header} if header else {})
    body = assert_problem(r, 401)
    assert "WWW-Authenticate" in r.headers
    assert "Bearer" in body["detail"]
