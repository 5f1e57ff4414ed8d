"""Drift pages in process, through the services the API uses (checks' executions are moved by hand
through the real execution machinery, ``tests/drift/fabricate.py``): the organization's latest
checks, a pipeline's history with "Check now", a check with before -> after (sensitive values
masked), the diagram's marks, accepting and reverting by form, CSRF, permissions and tenancy."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import msgspec

from app.console import routes_drift
from app.drift.schemas import AttributeDrift, ResourceDrift
from app.terraform.plan import SENSITIVE
from tests.console.support import ConsoleClient
from tests.designs.helpers import create_design
from tests.drift.fabricate import applied, changed, deleted, finish, site
from tests.support.api import PASSWORD, Account

LB = "sandbox_load_balancer.site"
BUCKET = "sandbox_bucket.assets"


async def signed_in(api, browser, tag: str):
    account = await api.register(tag)
    b = browser()
    await b.sign_in(account.email, PASSWORD)
    return account, b


async def make_pipeline(api, owner: Account, *, apply: bool = True, **options) -> tuple[dict, dict]:
    design = await create_design(api.client, owner, site(), name=f"site-{uuid.uuid4().hex[:6]}")
    r = await api.client.post(
        f"/api/v1/designs/{design['id']}/pipelines",
        json={"environment": "prod", **options},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    if apply:
        await applied(r.json()["id"])
    return design, r.json()


def found_drift() -> list[ResourceDrift]:
    """The load balancer's port changed by hand, a sensitive value changed, the bucket deleted."""
    lb = changed(LB, "lb", listener_port=(443, 8443))
    secret = AttributeDrift(
        name="admin_token", before=SENSITIVE, after=SENSITIVE, sensitive=True, effect="state_only"
    )
    return [msgspec.structs.replace(lb, attributes=[*lb.attributes, secret]), deleted(BUCKET, "bkt")]


async def check_now(b, base: str, pipeline: dict) -> str:
    """Press "Check now" on the pipeline's drift history; the check's id from where it leads."""
    assert "Check now" in (await b.get(f"{base}/pipelines/{pipeline['id']}/drift")).text
    r = await b.post(f"{base}/pipelines/{pipeline['id']}/drift-checks")
    assert r.status_code == 303, r.text
    match = re.search(r"/drift-checks/([0-9a-f-]{36})$", r.headers["location"])
    assert match is not None, r.headers["location"]
    return match.group(1)


@dataclass
class Drifted:
    """A signed-in owner whose pipeline's check (pressed in the console) found ``found_drift()``."""

    owner: Account
    b: ConsoleClient
    base: str
    design: dict
    pipeline: dict
    check: str


async def drifted(api, browser, tag: str) -> Drifted:
    owner, b = await signed_in(api, browser, tag)
    base = f"/console/orgs/{owner.org_slug}"
    design, pipeline = await make_pipeline(api, owner)
    check = await check_now(b, base, pipeline)
    await finish(check, found_drift())
    return Drifted(owner, b, base, design, pipeline, check)


async def api_get(api, owner: Account, path: str) -> dict:
    r = await api.client.get(f"/api/v1{path}", headers=owner.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_drift_page_history_and_check_now(api, browser, monkeypatch) -> None:
    owner, b = await signed_in(api, browser, "con-drift")
    base = f"/console/orgs/{owner.org_slug}"
    empty = await b.get(f"{base}/drift")
    assert empty.status_code == 200 and "Nothing to check yet" in empty.text
    assert f'href="{base}/drift"' in empty.text  # the navigation offers the page

    _, pipeline = await make_pipeline(api, owner)
    never = await b.get(f"{base}/drift")
    assert "never checked" in never.text and "No pipeline has been checked yet" in never.text
    history_url = f"{base}/pipelines/{pipeline['id']}/drift"
    assert history_url in never.text
    assert history_url in (await b.get(f"{base}/pipelines/{pipeline['id']}")).text
    assert "No drift checks yet" in (await b.get(history_url)).text

    first = await check_now(b, base, pipeline)
    page = await b.get(f"{base}/drift-checks/{first}")
    assert page.status_code == 200 and 'data-status="pending"' in page.text
    assert 'hx-trigger="every 2s"' in page.text and "Drift check started" in page.text
    overview = await b.get(f"{base}/drift")
    assert f"/drift-checks/{first}" in overview.text and 'data-status="pending"' in overview.text
    # While it runs, only its part of the page is fetched again.
    poll = {"HX-Request": "true", "HX-Target": "drift-check"}
    fragment = await b.get(f"{base}/drift-checks/{first}", headers=poll)
    assert "<html" not in fragment.text and 'id="drift-check"' in fragment.text

    await finish(first, found_drift())
    done = await b.get(f"{base}/drift-checks/{first}", headers=poll)
    assert 'data-status="drifted"' in done.text and "hx-trigger" not in done.text
    overview = text_of((await b.get(f"{base}/drift")).text)
    assert "drifted" in overview and "2 resources" in overview

    second = await check_now(b, base, pipeline)
    await finish(second, [])
    third = await check_now(b, base, pipeline)
    await finish(third, error="terraform could not reach the cloud")
    history = await b.get(history_url)
    rows = re.findall(r'data-check-id="([0-9a-f-]{36})"', history.text)
    assert rows == [third, second, first]  # newest first
    assert "terraform could not reach the cloud" in history.text
    assert 'data-status="no_drift"' in history.text and "tone-ok" in history.text
    overview = text_of((await b.get(f"{base}/drift")).text)
    assert "errored" in overview and "terraform could not reach the cloud" in overview
    assert "0 resources" in overview  # the count of the latest check that saw the infrastructure

    monkeypatch.setattr(routes_drift, "PAGE_SIZE", 2)
    paged = await b.get(history_url)
    assert re.findall(r'data-check-id="([0-9a-f-]{36})"', paged.text) == [third, second]
    cursor = re.search(r'href="\?cursor=([^"]+)"', paged.text)
    assert cursor is not None
    older = await b.get(f"{history_url}?cursor={cursor.group(1)}")
    assert re.findall(r'data-check-id="([0-9a-f-]{36})"', older.text) == [first]


async def test_a_check_before_any_apply_is_skipped_with_why(api, browser) -> None:
    owner, b = await signed_in(api, browser, "con-drift-skip")
    base = f"/console/orgs/{owner.org_slug}"
    _, pipeline = await make_pipeline(api, owner, apply=False)
    check = await check_now(b, base, pipeline)
    page = await b.get(f"{base}/drift-checks/{check}")
    assert 'data-status="skipped"' in page.text and "nothing applied yet" in page.text
    assert "Drift check skipped" in page.text and "hx-trigger" not in page.text


async def test_check_page_shows_before_after_masked_values_marks_and_links(api, browser) -> None:
    d = await drifted(api, browser, "con-drift-show")
    owner, b, base, design, check = d.owner, d.b, d.base, d.design, d.check
    page = await b.get(f"{base}/drift-checks/{check}")
    assert page.status_code == 200 and 'data-status="drifted"' in page.text

    row = re.search(r'<tr data-attribute="listener_port">(.*?)</tr>', page.text, re.S)
    assert row is not None
    cells = text_of(row.group(1))
    assert "443" in cells and "→ 8443" in cells and "will be reverted" in cells
    secret = re.search(r'<tr data-attribute="admin_token">(.*?)</tr>', page.text, re.S)
    assert secret is not None
    api_check = await api_get(api, owner, f"/drift-checks/{check}")
    masked = api_check["resources"][0]["attributes"][1]
    assert masked["after"] == SENSITIVE  # the page shows what the API shows
    assert text_of(secret.group(1)).count(SENSITIVE) == 2 and "sensitive" in secret.group(1)
    assert "state only" in secret.group(1)
    bucket = text_of(re.search(rf'<tr data-address="{BUCKET}">(.*?)</tbody>', page.text, re.S).group(1))
    assert "deleted" in bucket and "creates it again" in bucket

    # The checked version's diagram with this check's marks (the drift-aware diagram service).
    assert re.search(r'<g class="node drift-changed" data-drift="changed" data-node-id="lb">', page.text)
    assert re.search(r'<g class="node drift-deleted" data-drift="deleted" data-node-id="bkt">', page.text)
    assert 'data-node-id="net"' in page.text and 'data-drift="changed" data-node-id="net"' not in page.text
    assert 'class="legend"' in page.text

    execution = api_check["execution_id"]
    assert f'href="{base}/executions/{execution}"' in page.text
    assert f'href="{base}/executions/{execution}/log.txt"' in page.text
    assert f'action="{base}/drift-checks/{check}/accept"' in page.text
    assert f'action="{base}/drift-checks/{check}/revert"' in page.text
    assert f'href="{base}/designs/{design["id"]}?version=1&amp;node=lb#comments"' in page.text


async def test_accept_by_form_saves_a_new_design_version(api, browser) -> None:
    d = await drifted(api, browser, "con-drift-accept")
    owner, b, base, design, check = d.owner, d.b, d.base, d.design, d.check
    await b.get(f"{base}/drift-checks/{check}")

    nothing = await b.post(f"{base}/drift-checks/{check}/accept", {"message": "x"})
    assert nothing.status_code == 422 and "choose at least one resource" in nothing.text
    wrong = await b.post(f"{base}/drift-checks/{check}/accept", {"resources": "sandbox_bucket.nope"})
    assert wrong.status_code == 422 and "not drifted in this check" in wrong.text

    r = await b.post(
        f"{base}/drift-checks/{check}/accept", {"resources": [LB, BUCKET], "message": "take the new port"}
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{base}/designs/{design['id']}?version=2"
    landed = await b.get(r.headers["location"])
    assert "into design version 2" in landed.text and "version 2" in landed.text
    assert "admin_token" in landed.text  # said why the sensitive value was left
    now = await api_get(api, owner, f"/designs/{design['id']}")
    assert now["current_version"] == 2
    lb = next(n for n in now["canvas"]["nodes"] if n["id"] == "lb")
    assert lb["properties"]["listener_port"] == 8443
    assert any(n["id"] == "bkt" for n in now["canvas"]["nodes"])  # kept without remove_deleted


async def test_revert_starts_an_apply_of_the_checked_version(api, browser) -> None:
    d = await drifted(api, browser, "con-drift-revert")
    owner, b, base, pipeline, check = d.owner, d.b, d.base, d.pipeline, d.check
    await b.get(f"{base}/drift-checks/{check}")
    r = await b.post(f"{base}/drift-checks/{check}/revert")
    assert r.status_code == 303, r.text
    match = re.search(rf"^{base}/executions/([0-9a-f-]{{36}})$", r.headers["location"])
    assert match is not None, r.headers["location"]
    execution = await api_get(api, owner, f"/executions/{match.group(1)}")
    assert execution["operation"] == "apply" and execution["design_version"] == 1
    assert execution["pipeline_id"] == pipeline["id"]
    assert "put the infrastructure back" in (await b.get(r.headers["location"])).text

    clean = await check_now(b, base, pipeline)  # waits behind the apply
    page = await b.get(f"{base}/drift-checks/{clean}")
    assert 'data-status="pending"' in page.text and "/revert" not in page.text
    refused = await b.post(f"{base}/drift-checks/{clean}/revert")
    assert refused.status_code == 409 and "only drift a check found" in refused.text


async def test_forms_without_the_csrf_token_are_refused(api, browser) -> None:
    d = await drifted(api, browser, "con-drift-csrf")
    owner, b, base, design, pipeline, check = d.owner, d.b, d.base, d.design, d.pipeline, d.check
    for path, form in (
        (f"{base}/pipelines/{pipeline['id']}/drift-checks", {}),
        (f"{base}/drift-checks/{check}/accept", {"resources": LB}),
        (f"{base}/drift-checks/{check}/revert", {}),
    ):
        r = await b.post(path, form, csrf=False)
        assert r.status_code == 403, (path, r.status_code)
        forged = await b.post(path, {**form, "_csrf": "0" * 64}, csrf=False)
        assert forged.status_code == 403, path
    listed = await api_get(api, owner, f"/pipelines/{pipeline['id']}/drift-checks")
    assert [c["id"] for c in listed["items"]] == [check]
    design_now = await api_get(api, owner, f"/designs/{design['id']}")
    assert design_now["current_version"] == 1
    runs = await api_get(api, owner, f"/pipelines/{pipeline['id']}/executions")
    assert [r["operation"] for r in runs["items"]] == ["drift"]


async def test_a_viewer_sees_checks_but_no_buttons_and_the_services_refuse(api, browser) -> None:
    owner = await api.register("con-drift-owner")
    design, pipeline = await make_pipeline(api, owner)
    r = await api.client.post(f"/api/v1/pipelines/{pipeline['id']}/drift-checks", headers=owner.headers)
    check = r.json()["id"]
    await finish(check, found_drift())
    viewer_account = await api.register("con-drift-viewer")
    await api.add_member(owner, viewer_account, "viewer")
    viewer = browser()
    await viewer.sign_in(viewer_account.email, PASSWORD)
    base = f"/console/orgs/{owner.org_slug}"

    assert f"/drift-checks/{check}" in (await viewer.get(f"{base}/drift")).text
    history = await viewer.get(f"{base}/pipelines/{pipeline['id']}/drift")
    assert history.status_code == 200 and "Check now" not in history.text
    page = await viewer.get(f"{base}/drift-checks/{check}")
    assert page.status_code == 200 and 'data-drift="changed"' in page.text
    assert 'data-action="accept"' not in page.text and 'data-action="revert"' not in page.text
    assert "design:write" in page.text and "pipeline:run" in page.text
    for path, form, permission in (
        (f"{base}/pipelines/{pipeline['id']}/drift-checks", {}, "pipeline:run"),
        (f"{base}/drift-checks/{check}/accept", {"resources": LB}, "write"),
        (f"{base}/drift-checks/{check}/revert", {}, "pipeline:run"),
    ):
        refused = await viewer.post(path, form)
        assert refused.status_code == 403, (path, refused.status_code, refused.text[:300])
        assert permission in refused.text, path
    design_now = await api_get(api, owner, f"/designs/{design['id']}")
    assert design_now["current_version"] == 1


async def test_another_organizations_drift_is_not_found(api, browser) -> None:
    owner = await api.register("con-drift-a")
    design, pipeline = await make_pipeline(api, owner)
    r = await api.client.post(f"/api/v1/pipelines/{pipeline['id']}/drift-checks", headers=owner.headers)
    check = r.json()["id"]
    await finish(check, found_drift())
    stranger, b = await signed_in(api, browser, "con-drift-b")
    theirs, mine = f"/console/orgs/{owner.org_slug}", f"/console/orgs/{stranger.org_slug}"
    for path in (
        f"{theirs}/drift",
        f"{theirs}/pipelines/{pipeline['id']}/drift",
        f"{theirs}/drift-checks/{check}",
        f"{mine}/pipelines/{pipeline['id']}/drift",
        f"{mine}/drift-checks/{check}",
        f"{mine}/drift-checks/{uuid.uuid4()}",
    ):
        r = await b.get(path)
        assert r.status_code == 404, (path, r.status_code)
    await b.get(f"{mine}/drift")  # a page of one's own, for a valid CSRF token
    for path in (
        f"{mine}/pipelines/{pipeline['id']}/drift-checks",
        f"{mine}/drift-checks/{check}/accept",
        f"{mine}/drift-checks/{check}/revert",
        f"{theirs}/drift-checks/{check}/accept",
    ):
        r = await b.post(path, {"resources": LB})
        assert r.status_code == 404, (path, r.status_code)
    assert (await api_get(api, owner, f"/designs/{design['id']}"))["current_version"] == 1
    # A member of both organizations still gets 404 for a check under the other one's address.
    await api.add_member(stranger, owner, "developer")
    both = browser()
    await both.sign_in(owner.email, PASSWORD)
    assert (await both.get(f"{theirs}/drift-checks/{check}")).status_code == 200
    assert (await both.get(f"{mine}/drift-checks/{check}")).status_code == 404
