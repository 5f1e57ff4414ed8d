"""The audit log: who did what, from where; filters and pages; append-only in the database."""

from __future__ import annotations

import pytest

from tests.support.api import assert_problem, bearer


async def test_mutations_are_audited_with_actor_ip_and_agent(client, api):
    owner = await api.register("audited")
    member = await api.register("auditmember")
    await api.add_member(owner, member, "viewer")
    await client.patch(
        f"/api/v1/orgs/{owner.org_slug}",
        json={"name": "Audited Inc"},
        headers=owner.headers | {"User-Agent": "audit-test/1.0", "X-Request-ID": "audit-req-000001"},
    )
    key = await api.api_key(owner, scopes=["org:read", "apikey:write"])
    await client.post(
        f"/api/v1/orgs/{owner.org_slug}/api-keys",
        json={"name": "by-key", "scopes": ["org:read"]},
        headers=bearer(key),
    )
    r = await client.get(f"/api/v1/orgs/{owner.org_slug}/audit-logs", headers=owner.headers)
    assert r.status_code == 200
    entries = r.json()["items"]
    actions = [e["action"] for e in entries]
    assert actions == [
        "apikey.create",
        "apikey.create",
        "organization.update",
        "member.add",
        "organization.create",
    ]
    update = entries[2]
    assert update["actor_type"] == "user" and update["actor_id"] == owner.user_id
    assert update["actor_label"] == owner.email and update["user_agent"] == "audit-test/1.0"
    assert update["request_id"] == "audit-req-000001" and update["ip"]
    assert update["details"] == {"name": "Audited Inc"}
    by_key = entries[0]
    assert by_key["actor_type"] == "api_key" and by_key["actor_label"].startswith("api-key:b3k_")
    assert key not in r.text


async def test_filters_and_pagination(client, api):
    owner = await api.register("auditpage")
    for i in range(5):
        await client.post(
            f"/api/v1/orgs/{owner.org_slug}/roles",
            json={"name": f"role-{i}", "permissions": ["org:read"]},
            headers=owner.headers,
        )
    base = f"/api/v1/orgs/{owner.org_slug}/audit-logs"
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "action": "role.create"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(base, params=params, headers=owner.headers)).json()
        seen += [e["details"]["name"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"role-{i}" for i in reversed(range(5))]
    prefixed = (await client.get(base, params={"action": "organization.*"}, headers=owner.headers)).json()
    assert [e["action"] for e in prefixed["items"]] == ["organization.create"]
    by_actor = (await client.get(base, params={"actor": owner.user_id}, headers=owner.headers)).json()
    assert len(by_actor["items"]) == 6
    newest = by_actor["items"][0]["created_at"]
    until = (await client.get(base, params={"until": newest}, headers=owner.headers)).json()
    assert len(until["items"]) == 5
    assert_problem(await client.get(base, params={"cursor": "not-a-cursor!"}, headers=owner.headers), 400)
    assert_problem(await client.get(base, params={"limit": 1000}, headers=owner.headers), 400, "query.limit")
    assert_problem(
        await client.get(base, params={"since": "yesterday"}, headers=owner.headers), 400, "query.since"
    )


async def test_viewers_cannot_read_the_audit_log(client, api):
    owner = await api.register("auditview")
    viewer = await api.register("auditviewer")
    await api.add_member(owner, viewer, "viewer")
    assert_problem(await client.get(f"/api/v1/orgs/{owner.org_slug}/audit-logs", headers=viewer.headers), 403)


async def test_audit_rows_cannot_be_changed_or_deleted(api):
    from app.events.tables import AuditLog

    await api.register("appendonly")
    row = await AuditLog.select(AuditLog.id).first()
    with pytest.raises(Exception, match="append-only"):
        await AuditLog.update({AuditLog.action: "tampered"}).where(AuditLog.id == row["id"])
    with pytest.raises(Exception, match="append-only"):
        await AuditLog.delete().where(AuditLog.id == row["id"])
    assert await AuditLog.exists().where(AuditLog.id == row["id"])
