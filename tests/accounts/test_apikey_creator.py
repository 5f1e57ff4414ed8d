"""API keys follow the member who created them: effective permissions are the key's scopes within
the creator's current role, and a removed member's keys stop at once (and are listed as such).
Keys are remembered per process under generation tokens, so these hold for keys in use."""

from __future__ import annotations

import uuid

from app.accounts import apikey_auth
from tests.designs.helpers import vpc_canvas
from tests.support.api import assert_problem, bearer


async def _keys(client, owner) -> dict[str, dict]:
    r = await client.get(f"/api/v1/orgs/{owner.org_slug}/api-keys", headers=owner.headers)
    assert r.status_code == 200, r.text
    return {k["prefix"]: k for k in r.json()}


def _listed(keys: dict[str, dict], secret: str) -> dict:
    return next(k for prefix, k in keys.items() if secret.startswith(prefix))


async def _create_design(client, org: str, key: str):
    return await client.post(
        f"/api/v1/orgs/{org}/designs",
        json={"name": f"by key {uuid.uuid4().hex[:8]}", "canvas": vpc_canvas(1)},
        headers=bearer(key),
    )


async def test_a_demoted_creators_key_loses_what_the_creator_lost(client, api):
    owner = await api.register("kc-owner")
    dev = await api.register("kc-dev")
    await api.add_member(owner, dev, "developer")
    key = await api.api_key(dev, org=owner.org_slug)  # all of a developer's permissions
    for _ in range(3):  # in use, and so remembered
        assert (await _create_design(client, owner.org_slug, key)).status_code == 201
    r = await client.patch(
        f"/api/v1/orgs/{owner.org_slug}/members/{dev.user_id}", json={"role": "viewer"}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    assert_problem(await _create_design(client, owner.org_slug, key), 403)
    assert (
        await client.get(f"/api/v1/orgs/{owner.org_slug}/designs", headers=bearer(key))
    ).status_code == 200
    listed = _listed(await _keys(client, owner), key)
    assert "design:write" in listed["scopes"] and "design:write" not in listed["effective_scopes"]
    assert listed["status"] == "active" and "design:read" in listed["effective_scopes"]
    me = (await client.get("/api/v1/auth/me", headers=bearer(key))).json()
    assert "design:write" not in me["scopes"] and "state:write" not in me["scopes"]
    # Promoted again, the key's own scopes apply again.
    await client.patch(
        f"/api/v1/orgs/{owner.org_slug}/members/{dev.user_id}",
        json={"role": "developer"},
        headers=owner.headers,
    )
    assert (await _create_design(client, owner.org_slug, key)).status_code == 201


async def test_a_removed_members_keys_stop_at_once_and_are_listed_as_such(client, api):
    owner = await api.register("kr-owner")
    dev = await api.register("kr-dev")
    await api.add_member(owner, dev, "developer")
    key = await api.api_key(dev, org=owner.org_slug)
    # A key made with that key belongs to the same member.
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/api-keys",
        json={"name": "minted", "scopes": ["org:read"]},
        headers=bearer(key),
    )
    assert r.status_code == 201, r.text
    minted = r.json()["key"]
    assert r.json()["api_key"]["created_by"] == dev.user_id
    for _ in range(3):
        assert (await client.get(f"/api/v1/orgs/{owner.org_slug}", headers=bearer(key))).status_code == 200
        assert (await client.get(f"/api/v1/orgs/{owner.org_slug}", headers=bearer(minted))).status_code == 200
    r = await client.delete(f"/api/v1/orgs/{owner.org_slug}/members/{dev.user_id}", headers=owner.headers)
    assert r.status_code == 204
    for secret in (key, minted):
        r = await client.get(f"/api/v1/orgs/{owner.org_slug}", headers=bearer(secret))
        assert assert_problem(r, 401)["type"].endswith("/api-key-creator-removed")
        assert _listed(await _keys(client, owner), secret)["status"] == "creator_removed"
        assert _listed(await _keys(client, owner), secret)["effective_scopes"] == []


async def test_revoked_and_rotated_keys_in_use_are_refused_at_once(client, api):
    owner = await api.register("kx")
    first, second = await api.api_key(owner), await api.api_key(owner)
    for _ in range(3):
        for secret in (first, second):
            assert (await client.get("/api/v1/auth/me", headers=bearer(secret))).status_code == 200
    keys = await _keys(client, owner)
    r = await client.delete(
        f"/api/v1/orgs/{owner.org_slug}/api-keys/{_listed(keys, first)['id']}", headers=owner.headers
    )
    assert r.status_code == 204
    assert_problem(await client.get("/api/v1/auth/me", headers=bearer(first)), 401)
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/api-keys/{_listed(keys, second)['id']}/rotate", headers=owner.headers
    )
    assert r.status_code == 200
    assert_problem(await client.get("/api/v1/auth/me", headers=bearer(second)), 401)
    assert (await client.get("/api/v1/auth/me", headers=bearer(r.json()["key"]))).status_code == 200


async def test_a_key_in_use_costs_no_query_while_nothing_changed(client, api, monkeypatch):
    owner = await api.register("kq")
    key = await api.api_key(owner, scopes=["org:read"])
    loads = 0
    real_load = apikey_auth.load

    async def counted(secret_hash: str):
        nonlocal loads
        loads += 1
        return await real_load(secret_hash)

    monkeypatch.setattr(apikey_auth, "load", counted)
    for _ in range(10):
        assert (await client.get(f"/api/v1/orgs/{owner.org_slug}", headers=bearer(key))).status_code == 200
    assert loads == 2  # first sight, then the read remembered under the key's generation tokens
