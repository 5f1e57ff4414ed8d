"""Remembered design access: warm reads skip the access query, and every change that takes access
away (a revoked share, a removed or demoted member, a deleted design) ends it on the next request,
in this process and in another one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.designs import access as access_module
from app.designs.tables import Design
from tests.designs.helpers import create_design, save, vpc_canvas
from tests.support.api import Api, assert_problem


@pytest.fixture
def access_queries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Records each user access query (a spy around the real ``Design.raw``, which still runs)."""
    seen: list[str] = []
    real = Design.raw.__func__  # type: ignore[attr-defined]

    def spy(cls: Any, sql: str, *args: Any) -> Any:
        if sql == access_module._USER_ACCESS_SQL:
            seen.append(str(args[-1]))
        return real(cls, sql, *args)

    monkeypatch.setattr(Design, "raw", classmethod(spy))
    yield seen


async def warm(client: Any, url: str, headers: dict[str, str], times: int = 3) -> None:
    """Reads enough times for the access facts to be remembered: the first read teaches this
    process the design's organization, the second reads both generation tokens and remembers."""
    for _ in range(times):
        r = await client.get(url, headers=headers)
        assert r.status_code == 200, r.text


async def test_warm_design_reads_make_no_access_query(client, api, access_queries):
    owner = await api.register("mem")
    design = await create_design(client, owner, vpc_canvas(1))
    url = f"/api/v1/designs/{design['id']}"
    await warm(client, url, owner.headers)
    access_queries.clear()
    for path in ("", "/versions/1", "/versions", "/diff?from=0&to=1", "/comments"):
        r = await client.get(url + path, headers=owner.headers)
        assert r.status_code == 200, (path, r.text)
    assert access_queries == []
    # A save renews the design's generation: the next read queries once and shows version 2.
    assert (await save(client, owner, design["id"], vpc_canvas(2), base=1)).status_code == 201
    access_queries.clear()
    r = await client.get(url, headers=owner.headers)
    assert r.json()["current_version"] == 2 and access_queries == [design["id"]]
    assert (await client.get(url + "/versions/2", headers=owner.headers)).status_code == 200
    assert access_queries == [design["id"]]  # remembered again under the new token


async def test_revoked_share_ends_remembered_access_at_once(client, api, access_queries):
    owner = await api.register("memshare")
    guest = await api.register("memshare2")
    design = await create_design(client, owner, vpc_canvas(1))
    url = f"/api/v1/designs/{design['id']}"
    r = await client.post(
        f"{url}/shares", json={"email": guest.email, "permission": "edit"}, headers=owner.headers
    )
    share_id = r.json()["id"]
    await warm(client, url, guest.headers)
    access_queries.clear()
    await warm(client, url, guest.headers, times=1)
    assert access_queries == []  # remembered
    # Downgrading the share takes the right to save away at once...
    r = await client.post(
        f"{url}/shares", json={"email": guest.email, "permission": "view"}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    assert_problem(await save(client, guest, design["id"], vpc_canvas(2), base=1), 403)
    await warm(client, url, guest.headers)
    # ...and revoking it takes everything away.
    assert (await client.delete(f"{url}/shares/{share_id}", headers=owner.headers)).status_code == 204
    assert_problem(await client.get(url, headers=guest.headers), 404)
    assert_problem(await client.get(f"{url}/versions/1", headers=guest.headers), 404)


async def test_membership_changes_end_remembered_access_at_once(client, api):
    owner = await api.register("memorg")
    dev = await api.register("memorg2")
    await api.add_member(owner, dev, "developer")
    design = await create_design(client, owner, vpc_canvas(1))
    url = f"/api/v1/designs/{design['id']}"
    await warm(client, url, dev.headers)
    r = await client.patch(
        f"/api/v1/orgs/{owner.org_slug}/members/{dev.user_id}", json={"role": "viewer"}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    assert_problem(await save(client, dev, design["id"], vpc_canvas(2), base=1), 403)
    await warm(client, url, dev.headers)
    r = await client.delete(f"/api/v1/orgs/{owner.org_slug}/members/{dev.user_id}", headers=owner.headers)
    assert r.status_code == 204, r.text
    assert_problem(await client.get(url, headers=dev.headers), 404)


async def test_deleted_design_is_gone_at_once_for_a_warm_reader(client, api):
    owner = await api.register("memdel")
    reader = await api.register("memdel2")
    await api.add_member(owner, reader, "viewer")
    design = await create_design(client, owner, vpc_canvas(1))
    url = f"/api/v1/designs/{design['id']}"
    await warm(client, url, reader.headers)
    assert (await client.delete(url, headers=owner.headers)).status_code == 204
    assert_problem(await client.get(url, headers=reader.headers), 404)
    assert_problem(await client.get(f"{url}/versions/1", headers=reader.headers), 404)


@pytest.mark.slow
async def test_a_change_through_one_process_ends_access_remembered_by_another(live_server):
    """Production mode, two `board3 serve` processes sharing Redis: what one remembers is
    forgotten the moment the other commits a change."""
    first, second = live_server(), live_server()
    async with (
        httpx.AsyncClient(base_url=first.url, timeout=30) as a,
        httpx.AsyncClient(base_url=second.url, timeout=30) as b,
    ):
        owner = await Api(a).register("memx")
        guest = await Api(a).register("memx2")
        member = await Api(a).register("memx3")
        await Api(a).add_member(owner, member, "viewer")
        design = await create_design(a, owner, vpc_canvas(1))
        url = f"/api/v1/designs/{design['id']}"
        r = await a.post(
            f"{url}/shares", json={"email": guest.email, "permission": "view"}, headers=owner.headers
        )
        share_id = r.json()["id"]
        await warm(b, url, guest.headers)
        await warm(b, url, member.headers)
        # A save through the first process: the second serves the new version at once.
        assert (await save(a, owner, design["id"], vpc_canvas(2), base=1)).status_code == 201
        assert (await b.get(url, headers=guest.headers)).json()["current_version"] == 2
        await warm(b, url, guest.headers)
        assert (await a.delete(f"{url}/shares/{share_id}", headers=owner.headers)).status_code == 204
        assert_problem(await b.get(url, headers=guest.headers), 404)
        r = await a.delete(f"/api/v1/orgs/{owner.org_slug}/members/{member.user_id}", headers=owner.headers)
        assert r.status_code == 204, r.text
        assert_problem(await b.get(url, headers=member.headers), 404)
