"""Through the console another organization's pages are 404, exactly as in the API: its
organization, and its objects reached by id under one's own organization's address."""

from __future__ import annotations

import uuid

from tests.designs.helpers import create_design, vpc_canvas
from tests.states.support import basic, state_doc
from tests.support.api import PASSWORD


async def test_another_organizations_pages_are_not_found(api, browser) -> None:
    owner = await api.register("con-ten-a")
    design = await create_design(api.client, owner, vpc_canvas(1))
    pipeline = (
        await api.client.post(
            f"/api/v1/designs/{design['id']}/pipelines", json={"environment": "prod"}, headers=owner.headers
        )
    ).json()
    execution = (
        await api.client.post(
            f"/api/v1/pipelines/{pipeline['id']}/executions",
            json={"operation": "plan"},
            headers=owner.headers,
        )
    ).json()
    key = await api.api_key(owner)
    state = f"s-{uuid.uuid4().hex[:6]}"
    assert (
        await api.client.post(f"/tf/{owner.org_slug}/{state}", content=state_doc(), headers=basic(key))
    ).status_code == 200

    stranger = await api.register("con-ten-b")
    b = browser()
    await b.sign_in(stranger.email, PASSWORD)
    theirs, mine = f"/console/orgs/{owner.org_slug}", f"/console/orgs/{stranger.org_slug}"
    pages = [
        f"{theirs}/designs",
        f"{theirs}/designs/{design['id']}",
        f"{theirs}/pipelines",
        f"{theirs}/pipelines/{pipeline['id']}",
        f"{theirs}/executions/{execution['id']}",
        f"{theirs}/executions/{execution['id']}/log",
        f"{theirs}/states",
        f"{theirs}/states/{state}",
        f"{theirs}/members",
        f"{theirs}/api-keys",
        f"{theirs}/audit",
        f"{theirs}/analytics",
        f"{mine}/designs/{design['id']}",
        f"{mine}/designs/{design['id']}/diff",
        f"{mine}/designs/{design['id']}/comments",
        f"{mine}/pipelines/{pipeline['id']}",
        f"{mine}/executions/{execution['id']}",
        f"{mine}/executions/{execution['id']}/summary",
        f"{mine}/executions/{execution['id']}/log.txt",
        f"{mine}/states/{state}",
    ]
    for path in pages:
        r = await b.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert "text/html" in r.headers["content-type"] and "Not found" in r.text, path
        assert r.headers["x-frame-options"] == "DENY", path
    assert (await b.get(f"{mine}/designs")).status_code == 200
    writes = [
        f"{mine}/executions/{execution['id']}/cancel",
        f"{theirs}/executions/{execution['id']}/cancel",
        f"{mine}/designs/{design['id']}/comments",
        f"{mine}/pipelines/{pipeline['id']}/executions",
        f"{theirs}/states/{state}/unlock",
    ]
    for path in writes:
        r = await b.post(path, {"body": "x", "operation": "plan"})
        assert r.status_code == 404, (path, r.status_code)
    still = await api.client.get(f"/api/v1/executions/{execution['id']}", headers=owner.headers)
    assert still.json()["status"] != "canceled"


async def test_a_member_of_two_organizations_sees_each_object_under_its_own(api, browser) -> None:
    first = await api.register("con-two-a")
    second = await api.register("con-two-b")
    await api.add_member(second, first, "viewer")
    design = await create_design(api.client, second, vpc_canvas(1))
    b = browser()
    await b.sign_in(first.email, PASSWORD)
    assert (await b.get(f"/console/orgs/{second.org_slug}/designs/{design['id']}")).status_code == 200
    assert (await b.get(f"/console/orgs/{first.org_slug}/designs/{design['id']}")).status_code == 404
    switcher = await b.get(f"/console/orgs/{first.org_slug}/designs")
    assert f"/console/orgs/{second.org_slug}/designs" in switcher.text  # the organization menu
