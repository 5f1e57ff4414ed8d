"""Organizations, members and roles: permissions, last-owner rules, tenant isolation."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from app.accounts.orgs import slugify
from tests.support.api import assert_problem


async def test_create_list_get_update_org(client, api):
    owner = await api.register("orgs")
    r = await client.post("/api/v1/orgs", json={"name": "Second Org"}, headers=owner.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["role"] == "owner" and created["slug"].startswith("second-org")
    slugs = {o["slug"] for o in (await client.get("/api/v1/orgs", headers=owner.headers)).json()}
    assert slugs == {owner.org_slug, created["slug"]}
    r = await client.patch(f"/api/v1/orgs/{created['slug']}", json={"name": "Renamed"}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["name"] == "Renamed"
    got = (await client.get(f"/api/v1/orgs/{created['slug']}", headers=owner.headers)).json()
    assert got["name"] == "Renamed" and got["slug"] == created["slug"]


async def test_explicit_slug_conflict_and_validation(client, api):
    owner = await api.register("slug")
    slug = f"acme-{uuid.uuid4().hex[:8]}"
    assert (
        await client.post("/api/v1/orgs", json={"name": "Acme", "slug": slug}, headers=owner.headers)
    ).status_code == 201
    assert_problem(
        await client.post("/api/v1/orgs", json={"name": "Acme", "slug": slug}, headers=owner.headers),
        409,
        "slug",
    )
    assert_problem(
        await client.post(
            "/api/v1/orgs", json={"name": "Acme", "slug": "Not A Slug!"}, headers=owner.headers
        ),
        422,
        "slug",
    )
    assert_problem(
        await client.patch(f"/api/v1/orgs/{slug}", json={"slug": "other"}, headers=owner.headers), 422, "slug"
    )


async def test_members_roles_and_permissions(client, api):
    owner = await api.register("owner")
    dev = await api.register("dev")
    viewer = await api.register("viewer")
    await api.add_member(owner, dev, "developer")
    await api.add_member(owner, viewer, "viewer")
    members = (await client.get(f"/api/v1/orgs/{owner.org_slug}/members", headers=viewer.headers)).json()
    assert {m["email"]: m["role"] for m in members} == {
        owner.email: "owner",
        dev.email: "developer",
        viewer.email: "viewer",
    }
    # A viewer can read but not write.
    assert (await client.get(f"/api/v1/orgs/{owner.org_slug}", headers=viewer.headers)).status_code == 200
    assert_problem(
        await client.patch(f"/api/v1/orgs/{owner.org_slug}", json={"name": "x"}, headers=viewer.headers), 403
    )
    assert_problem(
        await client.post(
            f"/api/v1/orgs/{owner.org_slug}/members", json={"email": owner.email}, headers=dev.headers
        ),
        403,
    )
    # Adding twice, unknown users and unknown roles are refused with a field.
    assert_problem(
        await client.post(
            f"/api/v1/orgs/{owner.org_slug}/members",
            json={"email": dev.email, "role": "viewer"},
            headers=owner.headers,
        ),
        409,
        "email",
    )
    assert_problem(
        await client.post(
            f"/api/v1/orgs/{owner.org_slug}/members",
            json={"email": f"nobody-{uuid.uuid4().hex}@example.com"},
            headers=owner.headers,
        ),
        422,
        "email",
    )
    assert_problem(
        await client.patch(
            f"/api/v1/orgs/{owner.org_slug}/members/{dev.user_id}",
            json={"role": "emperor"},
            headers=owner.headers,
        ),
        422,
        "role",
    )
    r = await client.patch(
        f"/api/v1/orgs/{owner.org_slug}/members/{viewer.user_id}",
        json={"role": "admin"},
        headers=owner.headers,
    )
    assert r.status_code == 200 and r.json()["role"] == "admin"
    # An admin cannot make owners, nor touch an owner.
    assert_problem(
        await client.patch(
            f"/api/v1/orgs/{owner.org_slug}/members/{dev.user_id}",
            json={"role": "owner"},
            headers=viewer.headers,
        ),
        403,
    )
    assert_problem(
        await client.delete(f"/api/v1/orgs/{owner.org_slug}/members/{owner.user_id}", headers=viewer.headers),
        403,
    )


async def test_last_owner_cannot_leave_or_be_demoted(client, api):
    owner = await api.register("last")
    second = await api.register("second")
    assert_problem(
        await client.delete(f"/api/v1/orgs/{owner.org_slug}/members/{owner.user_id}", headers=owner.headers),
        409,
    )
    assert_problem(
        await client.patch(
            f"/api/v1/orgs/{owner.org_slug}/members/{owner.user_id}",
            json={"role": "admin"},
            headers=owner.headers,
        ),
        409,
    )
    await api.add_member(owner, second, "owner")
    # Two owners demoting each other at the same moment: exactly one succeeds.
    results = await asyncio.gather(
        client.patch(
            f"/api/v1/orgs/{owner.org_slug}/members/{second.user_id}",
            json={"role": "admin"},
            headers=owner.headers,
        ),
        client.patch(
            f"/api/v1/orgs/{owner.org_slug}/members/{owner.user_id}",
            json={"role": "admin"},
            headers=second.headers,
        ),
    )
    # The loser is refused either as the last owner (409) or, if it lost its own ownership first, as
    # an admin touching an owner (403); never do both succeed.
    codes = sorted(r.status_code for r in results)
    assert codes[0] == 200 and codes[1] in (403, 409), codes
    members = (await client.get(f"/api/v1/orgs/{owner.org_slug}/members", headers=owner.headers)).json()
    assert [m["role"] for m in members].count("owner") == 1


async def test_member_can_leave_and_removed_member_loses_access_at_once(client, api):
    owner = await api.register("boss")
    leaver = await api.register("leaver")
    removed = await api.register("removed")
    await api.add_member(owner, leaver, "developer")
    await api.add_member(owner, removed, "admin")
    assert (await client.get(f"/api/v1/orgs/{owner.org_slug}", headers=removed.headers)).status_code == 200
    r = await client.delete(f"/api/v1/orgs/{owner.org_slug}/members/{leaver.user_id}", headers=leaver.headers)
    assert r.status_code == 204
    r = await client.delete(f"/api/v1/orgs/{owner.org_slug}/members/{removed.user_id}", headers=owner.headers)
    assert r.status_code == 204
    for account in (leaver, removed):
        assert_problem(await client.get(f"/api/v1/orgs/{owner.org_slug}", headers=account.headers), 404)
        assert_problem(
            await client.get(f"/api/v1/orgs/{owner.org_slug}/members", headers=account.headers), 404
        )


async def test_custom_roles(client, api):
    owner = await api.register("custom")
    member = await api.register("auditor")
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/roles",
        json={"name": "auditor", "permissions": ["org:read", "audit:read"], "description": "reads the log"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    assert_problem(
        await client.post(
            f"/api/v1/orgs/{owner.org_slug}/roles",
            json={"name": "bad", "permissions": ["org:owner"]},
            headers=owner.headers,
        ),
        422,
        "permissions[0]",
    )
    assert_problem(
        await client.post(
            f"/api/v1/orgs/{owner.org_slug}/roles",
            json={"name": "auditor", "permissions": ["org:read"]},
            headers=owner.headers,
        ),
        409,
        "name",
    )
    roles = (await client.get(f"/api/v1/orgs/{owner.org_slug}/roles", headers=owner.headers)).json()
    assert [r["name"] for r in roles][:4] == ["owner", "admin", "developer", "viewer"]
    assert "auditor" in {r["name"] for r in roles}
    await api.add_member(owner, member, "auditor")
    assert (
        await client.get(f"/api/v1/orgs/{owner.org_slug}/audit-logs", headers=member.headers)
    ).status_code == 200
    assert_problem(
        await client.post(
            f"/api/v1/orgs/{owner.org_slug}/api-keys", json={"name": "k"}, headers=member.headers
        ),
        403,
    )
    # Another org's custom role is invisible here.
    other = await api.register("other")
    assert_problem(
        await client.post(
            f"/api/v1/orgs/{other.org_slug}/members",
            json={"email": member.email, "role": "auditor"},
            headers=other.headers,
        ),
        422,
        "role",
    )


def _org_routes(slug: str, some_user: str) -> list[tuple[str, str, dict | None]]:
    key = str(uuid.uuid4())
    return [
        ("GET", f"/api/v1/orgs/{slug}", None),
        ("PATCH", f"/api/v1/orgs/{slug}", {"name": "pwned"}),
        ("GET", f"/api/v1/orgs/{slug}/members", None),
        ("POST", f"/api/v1/orgs/{slug}/members", {"email": "x@example.com"}),
        ("PATCH", f"/api/v1/orgs/{slug}/members/{some_user}", {"role": "viewer"}),
        ("DELETE", f"/api/v1/orgs/{slug}/members/{some_user}", None),
        ("GET", f"/api/v1/orgs/{slug}/roles", None),
        ("POST", f"/api/v1/orgs/{slug}/roles", {"name": "intruder", "permissions": ["org:read"]}),
        ("GET", f"/api/v1/orgs/{slug}/api-keys", None),
        ("POST", f"/api/v1/orgs/{slug}/api-keys", {"name": "x"}),
        ("DELETE", f"/api/v1/orgs/{slug}/api-keys/{key}", None),
        ("POST", f"/api/v1/orgs/{slug}/api-keys/{key}/rotate", None),
        ("GET", f"/api/v1/orgs/{slug}/audit-logs", None),
    ]


@pytest.mark.parametrize("credential", ["user", "api_key"])
async def test_another_tenant_gets_404_on_every_org_route(client, api, credential):
    victim = await api.register("victim")
    attacker = await api.register("attacker")
    headers = attacker.headers
    if credential == "api_key":
        headers = {"Authorization": f"Bearer {await api.api_key(attacker)}"}
    for method, path, body in _org_routes(victim.org_slug, victim.user_id):
        r = await client.request(method, path, json=body, headers=headers)
        assert_problem(r, 404)
    # Nothing changed for the victim.
    got = (await client.get(f"/api/v1/orgs/{victim.org_slug}", headers=victim.headers)).json()
    assert got["name"].startswith("victim org")
    members = (await client.get(f"/api/v1/orgs/{victim.org_slug}/members", headers=victim.headers)).json()
    assert [m["email"] for m in members] == [victim.email]


async def test_organizations_created_at_once_with_one_name_get_distinct_slugs(client, api):
    owner = await api.register("slugrace")
    name = f"Race {uuid.uuid4().hex[:6]}"
    results = await asyncio.gather(
        *(client.post("/api/v1/orgs", json={"name": name}, headers=owner.headers) for _ in range(6))
    )
    assert [r.status_code for r in results] == [201] * 6
    slugs = [r.json()["slug"] for r in results]
    assert len(set(slugs)) == 6 and slugify(name) in slugs
    # Racing for one explicit slug: one wins, the others are told it is taken; nothing half-made.
    wanted = f"exact-{uuid.uuid4().hex[:8]}"
    results = await asyncio.gather(
        *(
            client.post("/api/v1/orgs", json={"name": "X", "slug": wanted}, headers=owner.headers)
            for _ in range(6)
        )
    )
    assert sorted(r.status_code for r in results) == [201] + [409] * 5
    mine = {o["slug"] for o in (await client.get("/api/v1/orgs", headers=owner.headers)).json()}
    assert wanted in mine and len(mine) == 1 + 6 + 1


async def test_taken_slugs_fall_back_to_fresh_random_suffixes(client, api, monkeypatch):
    import app.accounts.orgs as orgs_module

    owner = await api.register("suffix")
    name = f"Suffix {uuid.uuid4().hex[:6]}"
    base = slugify(name)
    for slug in (base, f"{base}-aaaaaa"):
        r = await client.post("/api/v1/orgs", json={"name": name, "slug": slug}, headers=owner.headers)
        assert r.status_code == 201
    tokens = iter(["aaaaaa", "aaaaaa", "bbbbbb", "cccccc", "dddddd"])
    monkeypatch.setattr(orgs_module.secrets, "token_hex", lambda n: next(tokens))
    r = await client.post("/api/v1/orgs", json={"name": name}, headers=owner.headers)
    assert r.status_code == 201, r.text
    assert r.json()["slug"] == f"{base}-bbbbbb"
