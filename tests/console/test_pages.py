"""Console pages call the API's services: designs with diagram, versions, diff and comments per
node; pipelines and executions with their actions; states with locks and outputs; organization
pages; readable errors for bad input."""

from __future__ import annotations

import re
import uuid

from tests.designs.helpers import create_design, save, vpc_canvas
from tests.states.support import basic, lock_info, state_doc
from tests.support.api import PASSWORD


async def signed_in(api, browser, tag: str):
    account = await api.register(tag)
    b = browser()
    await b.sign_in(account.email, PASSWORD)
    return account, b


async def test_design_page_shows_diagram_versions_and_comments_per_node(api, browser) -> None:
    account, b = await signed_in(api, browser, "con-design")
    design = await create_design(api.client, account, vpc_canvas(2), name="network-core")
    changed = vpc_canvas(3)
    changed["nodes"][0]["properties"]["cidr_block"] = "10.1.0.0/16"
    assert (await save(api.client, account, design["id"], changed, 1, "third subnet")).status_code == 201
    base = f"/console/orgs/{account.org_slug}/designs"

    listing = await b.get(f"{base}?q=core")
    assert listing.status_code == 200 and "network-core" in listing.text
    rows = await b.get(
        f"{base}?q=nothing-like-it", headers={"HX-Request": "true", "HX-Target": "design-rows"}
    )
    assert "<html" not in rows.text and "No design matches" in rows.text

    page = await b.get(f"{base}/{design['id']}")
    assert page.status_code == 200
    assert "<svg" in page.text and 'data-node-id="subnet-2"' in page.text
    assert "third subnet" in page.text and "v2" in page.text
    old = await b.get(f"{base}/{design['id']}?version=1")
    assert 'data-node-id="subnet-1"' in old.text and 'data-node-id="subnet-2"' not in old.text

    r = await b.post(
        f"{base}/{design['id']}/comments", {"body": "Is /24 enough here?", "node_id": "subnet-2"}
    )
    assert r.status_code == 303 and "node=subnet-2" in r.headers["location"]
    await b.post(f"{base}/{design['id']}/comments", {"body": "Looks good overall"})
    panel = await b.get(f"{base}/{design['id']}/comments?node=subnet-2", headers={"HX-Request": "true"})
    assert "Is /24 enough here?" in panel.text and "Looks good overall" not in panel.text
    assert "aws_subnet.s2" in panel.text and "<html" not in panel.text
    everything = await b.get(f"{base}/{design['id']}")
    assert "Is /24 enough here?" in everything.text and "Looks good overall" in everything.text
    bad = await b.post(f"{base}/{design['id']}/comments", {"body": "x", "node_id": "no-such-node"})
    assert bad.status_code == 422 and "no-such-node" in bad.text


async def test_the_diff_between_versions_is_readable(api, browser) -> None:
    account, b = await signed_in(api, browser, "con-diff")
    design = await create_design(api.client, account, vpc_canvas(1))
    changed = vpc_canvas(2)
    changed["nodes"][0]["properties"]["cidr_block"] = "10.9.0.0/16"
    changed["nodes"][0]["properties"]["tags"] = {"env": "prod"}
    await save(api.client, account, design["id"], changed, 1)
    r = await b.get(f"/console/orgs/{account.org_slug}/designs/{design['id']}/diff?from=1&to=2")
    assert r.status_code == 200
    text = re.sub(r"\s+", " ", r.text)
    assert "1 added" in text and "1 changed" in text
    assert "aws_subnet.s1" in text  # added node, by its resource address
    assert "cidr_block" in text and "10.0.0.0/16" in text and "10.9.0.0/16" in text
    assert "tags" in text and "added" in text
    bad = await b.get(f"/console/orgs/{account.org_slug}/designs/{design['id']}/diff?from=1&to=7")
    assert bad.status_code == 422 and "version 7 does not exist" in bad.text


async def test_pipeline_pages_start_and_cancel_runs_through_the_services(api, browser) -> None:
    account, b = await signed_in(api, browser, "con-pipe")
    design = await create_design(api.client, account, vpc_canvas(1), name="pipe-design")
    base = f"/console/orgs/{account.org_slug}"
    page = await b.get(f"{base}/designs/{design['id']}")
    assert "Create pipeline" in page.text
    bad = await b.post(
        f"{base}/designs/{design['id']}/pipelines", {"environment": "Not Valid!", "mode": "confirm"}
    )
    assert bad.status_code == 422 and "environment" in bad.text
    r = await b.post(f"{base}/designs/{design['id']}/pipelines", {"environment": "dev", "mode": "approval"})
    assert r.status_code == 303
    pipeline_url = r.headers["location"]
    pipeline_page = await b.get(pipeline_url)
    assert "after approval" in pipeline_page.text and "No executions yet" in pipeline_page.text
    assert "pipe-design" in (await b.get(f"{base}/pipelines")).text

    r = await b.post(f"{pipeline_url}/executions", {"operation": "plan"})
    assert r.status_code == 303 and "/executions/" in r.headers["location"]
    execution_url = r.headers["location"]
    ex = await b.get(execution_url)
    assert ex.status_code == 200 and "plan" in ex.text and 'data-status="queued"' in ex.text
    assert 'id="log"' in ex.text and "log?start=0" in ex.text
    summary = await b.get(execution_url + "/summary", headers={"HX-Request": "true"})
    assert "<html" not in summary.text and 'hx-trigger="every 2s, refresh"' in summary.text
    r = await b.post(execution_url + "/cancel")
    assert r.status_code == 303
    after = await b.get(execution_url)
    assert 'data-status="canceled"' in after.text and "Canceled." in after.text
    # The API's rules apply: a finished execution cannot be approved.
    refused = await b.post(execution_url + "/approve")
    assert refused.status_code == 409 and "Not possible" in refused.text
    unknown = await b.post(execution_url + "/explode")
    assert unknown.status_code == 422
    listing = await b.get(pipeline_url)
    assert "#1" in listing.text and "canceled" in listing.text
    assert (await b.get(f"{base}/pipelines/{uuid.uuid4()}")).status_code == 404
    text = await b.get(execution_url + "/log.txt")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")


async def test_state_page_shows_lock_and_masked_outputs_and_admins_force_unlock(api, browser) -> None:
    account, b = await signed_in(api, browser, "con-state")
    key = await api.api_key(account)
    name = f"net-{uuid.uuid4().hex[:6]}"
    doc = state_doc(
        outputs={
            "secret": {"value": "hunter2", "type": "string", "sensitive": True},
            "region": {"value": "eu-west-1", "type": "string"},
        }
    )
    tf = f"/tf/{account.org_slug}/{name}"
    assert (await api.client.post(tf, content=doc, headers=basic(key))).status_code == 200
    holder = lock_info(who="ci@runner-7")
    assert (
        await api.client.request("LOCK", tf + "/lock", json=holder, headers=basic(key))
    ).status_code == 200

    base = f"/console/orgs/{account.org_slug}/states"
    listing = await b.get(base)
    assert name in listing.text and "ci@runner-7" in listing.text
    page = await b.get(f"{base}/{name}")
    assert page.status_code == 200
    assert "ci@runner-7" in page.text and "eu-west-1" in page.text
    assert "hunter2" not in page.text and "(sensitive value)" in page.text
    assert "Force-unlock" in page.text
    r = await b.post(f"{base}/{name}/unlock")
    assert r.status_code == 303
    after = await b.get(f"{base}/{name}")
    assert "Lock of ci@runner-7 removed." in after.text and "Not locked." in after.text

    # A viewer sees the lock but no button, and the service refuses the form all the same.
    viewer_account = await api.register("con-viewer")
    await api.add_member(account, viewer_account, "viewer")
    await api.client.request("LOCK", tf + "/lock", json=lock_info(), headers=basic(key))
    viewer = browser()
    await viewer.sign_in(viewer_account.email, PASSWORD)
    page = await viewer.get(f"{base}/{name}")
    assert page.status_code == 200 and "Force-unlock</button>" not in page.text
    refused = await viewer.post(f"{base}/{name}/unlock")
    assert refused.status_code == 403 and "state:admin" in refused.text
    assert (await viewer.get(f"/console/orgs/{account.org_slug}/audit")).status_code == 403


async def test_organization_pages_members_keys_shown_once_and_audit(api, browser) -> None:
    account, b = await signed_in(api, browser, "con-org")
    base = f"/console/orgs/{account.org_slug}"
    members = await b.get(f"{base}/members")
    assert account.email in members.text and "owner" in members.text
    created = await b.post(f"{base}/api-keys", {"name": "ci-key", "scopes": ["state:read", "state:write"]})
    assert created.status_code == 200
    secret = re.search(r'id="new-key">(b3k_[^<]+)<', created.text)
    assert secret is not None
    listing = await b.get(f"{base}/api-keys")
    assert "ci-key" in listing.text and secret.group(1) not in listing.text
    me = await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret.group(1)}"})
    assert me.status_code == 200 and sorted(me.json()["scopes"]) == ["state:read", "state:write"]
    too_much = await b.post(f"{base}/api-keys", {"name": "x", "scopes": ["org:owner"]})
    assert too_much.status_code == 422
    key_id = re.search(r"/api-keys/([0-9a-f-]{36})/revoke", listing.text)
    assert key_id is not None
    assert (await b.post(f"{base}/api-keys/{key_id.group(1)}/revoke")).status_code == 303
    assert (
        await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret.group(1)}"})
    ).status_code == 401
    audit = await b.get(f"{base}/audit?action=apikey.*")
    assert "apikey.create" in audit.text and "apikey.revoke" in audit.text
    assert "analytics" in (await b.get(f"{base}/analytics")).text.lower()


async def test_bad_input_gets_a_readable_page(api, browser) -> None:
    account, b = await signed_in(api, browser, "con-bad")
    base = f"/console/orgs/{account.org_slug}"
    design = await create_design(api.client, account, vpc_canvas(1))
    cases = {
        f"{base}/designs/{design['id']}?version=abc": 400,
        f"{base}/designs/{design['id']}?version=9": 404,
        f"{base}/designs/not-a-uuid": 404,
        f"{base}/designs?status=sideways": 400,
        "/console/no/such/page": 404,
    }
    for path, status in cases.items():
        r = await b.get(path)
        assert r.status_code == status, (path, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("text/html") and "<h1>" in r.text, path
    r = await b.get(f"{base}/designs/{design['id']}?version=abc", headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.headers["hx-retarget"] == "#flash" and "version" in r.text
    r = await b.post(f"{base}/designs/{design['id']}/comments", {"body": ""})
    assert r.status_code == 422 and "body" in r.text


async def test_console_routes_stay_out_of_the_openapi_document(client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert not [p for p in schema["paths"] if p.startswith("/console")]
