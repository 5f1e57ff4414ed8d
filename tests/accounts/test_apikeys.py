"""API keys: shown once, stored hashed, scoped, revocable, rotatable, expiring."""

from __future__ import annotations

import asyncio
import datetime as dt

from tests.support.api import assert_problem, bearer


async def test_key_is_shown_once_and_works_as_bearer(client, api):
    owner = await api.register("keys")
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/api-keys", json={"name": "ci"}, headers=owner.headers
    )
    assert r.status_code == 201
    created = r.json()
    secret = created["key"]
    assert secret.startswith("b3k_") and secret.startswith(created["api_key"]["prefix"])
    # The default scopes are the creator's permissions minus ownership.
    assert "org:owner" not in created["api_key"]["scopes"] and "org:admin" in created["api_key"]["scopes"]
    listing = await client.get(f"/api/v1/orgs/{owner.org_slug}/api-keys", headers=owner.headers)
    assert secret not in listing.text and created["api_key"]["prefix"] in listing.text
    me = (await client.get("/api/v1/auth/me", headers=bearer(secret))).json()
    assert me["kind"] == "api_key" and [o["slug"] for o in me["organizations"]] == [owner.org_slug]
    # last_used_at is recorded.
    listing = (await client.get(f"/api/v1/orgs/{owner.org_slug}/api-keys", headers=owner.headers)).json()
    assert listing[0]["last_used_at"] is not None


async def test_key_cannot_exceed_creator_or_its_own_scopes(client, api):
    owner = await api.register("scopes")
    dev = await api.register("scopedev")
    await api.add_member(owner, dev, "developer")
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/api-keys",
        json={"name": "x", "scopes": ["org:read", "org:admin"]},
        headers=dev.headers,
    )
    assert_problem(r, 422, "scopes[1]")
    read_only = await api.api_key(owner, scopes=["org:read"])
    h = bearer(read_only)
    assert (await client.get(f"/api/v1/orgs/{owner.org_slug}/members", headers=h)).status_code == 200
    assert_problem(await client.patch(f"/api/v1/orgs/{owner.org_slug}", json={"name": "x"}, headers=h), 403)
    assert_problem(
        await client.post(f"/api/v1/orgs/{owner.org_slug}/api-keys", json={"name": "x"}, headers=h), 403
    )
    assert_problem(await client.get(f"/api/v1/orgs/{owner.org_slug}/audit-logs", headers=h), 403)
    # A key that may create keys still cannot mint one with more than it has.
    minter = await api.api_key(owner, scopes=["org:read", "apikey:write"])
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/api-keys",
        json={"name": "y", "scopes": ["org:admin"]},
        headers=bearer(minter),
    )
    assert_problem(r, 422, "scopes[0]")
    # API keys cannot create organizations nor log out.
    assert_problem(await client.post("/api/v1/orgs", json={"name": "k"}, headers=h), 400)
    assert_problem(await client.post("/api/v1/auth/logout", headers=h), 400)


async def test_revoke_and_rotate(client, api):
    owner = await api.register("revoke")
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/api-keys", json={"name": "r"}, headers=owner.headers
    )
    key_id, secret = r.json()["api_key"]["id"], r.json()["key"]
    r = await client.post(f"/api/v1/orgs/{owner.org_slug}/api-keys/{key_id}/rotate", headers=owner.headers)
    assert r.status_code == 200
    new_secret = r.json()["key"]
    assert new_secret != secret
    assert_problem(await client.get("/api/v1/auth/me", headers=bearer(secret)), 401)
    assert (await client.get("/api/v1/auth/me", headers=bearer(new_secret))).status_code == 200
    assert (
        await client.delete(f"/api/v1/orgs/{owner.org_slug}/api-keys/{key_id}", headers=owner.headers)
    ).status_code == 204
    assert_problem(await client.get("/api/v1/auth/me", headers=bearer(new_secret)), 401)
    assert_problem(
        await client.post(f"/api/v1/orgs/{owner.org_slug}/api-keys/{key_id}/rotate", headers=owner.headers),
        409,
    )
    listed = (await client.get(f"/api/v1/orgs/{owner.org_slug}/api-keys", headers=owner.headers)).json()
    assert listed[0]["revoked_at"] is not None


async def test_developers_see_only_their_keys_admins_see_all(client, api):
    owner = await api.register("vis")
    dev = await api.register("visdev")
    await api.add_member(owner, dev, "developer")
    await api.api_key(owner)
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/api-keys", json={"name": "mine"}, headers=dev.headers
    )
    dev_key_id = r.json()["api_key"]["id"]
    mine = (await client.get(f"/api/v1/orgs/{owner.org_slug}/api-keys", headers=dev.headers)).json()
    assert [k["name"] for k in mine] == ["mine"]
    everything = (await client.get(f"/api/v1/orgs/{owner.org_slug}/api-keys", headers=owner.headers)).json()
    assert len(everything) == 2
    owners_key = next(k for k in everything if k["id"] != dev_key_id)
    assert_problem(
        await client.delete(
            f"/api/v1/orgs/{owner.org_slug}/api-keys/{owners_key['id']}", headers=dev.headers
        ),
        404,
    )
    assert (
        await client.delete(f"/api/v1/orgs/{owner.org_slug}/api-keys/{dev_key_id}", headers=owner.headers)
    ).status_code == 204


async def test_expiry(client, api):
    owner = await api.register("expiry")
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    assert_problem(
        await client.post(
            f"/api/v1/orgs/{owner.org_slug}/api-keys",
            json={"name": "old", "expires_at": past},
            headers=owner.headers,
        ),
        422,
        "expires_at",
    )
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)).isoformat()
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/api-keys",
        json={"name": "soon", "expires_at": soon},
        headers=owner.headers,
    )
    secret = r.json()["key"]
    assert (await client.get("/api/v1/auth/me", headers=bearer(secret))).status_code == 200
    await asyncio.sleep(2.2)
    assert_problem(await client.get("/api/v1/auth/me", headers=bearer(secret)), 401)


async def test_secret_is_stored_hashed(client, api):
    from app.accounts.tables import ApiKey

    owner = await api.register("hashed")
    secret = await api.api_key(owner)
    rows = await ApiKey.select(ApiKey.secret_hash, ApiKey.prefix)
    assert all(secret not in (r["secret_hash"] + r["prefix"]) for r in rows)
    assert any(secret.startswith(r["prefix"]) for r in rows)
