"""Commenting needs design:comment (or design:write): a key scoped to design:read alone reads
designs and their comments but writes nothing. Built-in roles all carry it, and the migration that
introduced it gave it to every role with design:read, so members comment as before."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.designs.helpers import create_design, vpc_canvas
from tests.support.api import assert_problem, bearer

MIGRATION = Path(__file__).resolve().parents[2] / "piccolo_migrations/board3_2026_12_03t11_10_00_000000.py"


async def _comment(client, headers, design_id):
    return await client.post(f"/api/v1/designs/{design_id}/comments", json={"body": "hm"}, headers=headers)


async def test_a_read_only_key_cannot_comment_and_a_comment_scope_can(client, api):
    owner = await api.register("ckey")
    design = await create_design(client, owner, vpc_canvas(1))
    reader = bearer(await api.api_key(owner, scopes=["design:read"]))
    problem = assert_problem(await _comment(client, reader, design["id"]), 403)
    assert "design:comment" in problem["detail"]
    assert (await client.get(f"/api/v1/designs/{design['id']}/comments", headers=reader)).status_code == 200
    commenter = bearer(await api.api_key(owner, scopes=["design:read", "design:comment"]))
    assert (await _comment(client, commenter, design["id"])).status_code == 201
    writer = bearer(await api.api_key(owner, scopes=["design:read", "design:write"]))
    assert (await _comment(client, writer, design["id"])).status_code == 201
    # design:comment without design:read gives nothing to comment on.
    blind = bearer(await api.api_key(owner, scopes=["design:comment"]))
    assert_problem(await _comment(client, blind, design["id"]), 403)


async def test_viewers_still_comment_and_roles_that_read_are_given_the_permission(client, api):
    owner = await api.register("crole")
    viewer = await api.register("crole2")
    await api.add_member(owner, viewer, "viewer")
    design = await create_design(client, owner, vpc_canvas(1))
    assert (await _comment(client, viewer.headers, design["id"])).status_code == 201
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/roles",
        json={"name": "reader", "permissions": ["org:read", "design:read"]},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    spec = importlib.util.spec_from_file_location("comment_migration", MIGRATION)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    await migration.add_comment_permission()  # as when the permission was introduced
    roles = (await client.get(f"/api/v1/orgs/{owner.org_slug}/roles", headers=owner.headers)).json()
    reader = next(role for role in roles if role["name"] == "reader")
    assert reader["permissions"] == ["design:comment", "design:read", "org:read"]
    assert all(
        "design:comment" in role["permissions"] for role in roles if "design:read" in role["permissions"]
    )
