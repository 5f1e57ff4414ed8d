"""The state REST API: lists, versions, download, restore, outputs, resources, force-unlock, delete."""

from __future__ import annotations

import json

from tests.states.support import lock_info, state_doc, unique
from tests.support.api import assert_problem, bearer

OUTPUTS = {
    "url": {"value": "https://example.test", "type": "string"},
    "password": {"value": "hunter2-secret", "type": "string", "sensitive": True},
}


async def _write(client, keys, name, body, **params):
    r = await client.post(f"/tf/{keys.org}/{name}", content=body, params=params, headers=keys.headers())
    assert r.status_code == 200, r.text


async def test_list_states_shows_serial_size_resources_and_lock(client, keys):
    a, b = f"a-{unique()}", f"b-{unique()}"
    body = state_doc(3, resources=4)
    await _write(client, keys, a, body)
    holder = lock_info(operation="OperationTypePlan", who="carol@desk")
    r = await client.request("LOCK", f"/tf/{keys.org}/{b}/lock", json=holder, headers=keys.headers())
    assert r.status_code == 200
    r = await client.get(f"/api/v1/orgs/{keys.org}/states", headers=bearer(keys.read))
    assert r.status_code == 200, r.text
    items = {s["name"]: s for s in r.json()["items"]}
    assert items[a]["serial"] == 3 and items[a]["size"] == len(body) and items[a]["resource_count"] == 4
    assert items[a]["lock"] is None
    lock = items[b]["lock"]
    assert (
        lock["id"] == holder["ID"]
        and lock["operation"] == "OperationTypePlan"
        and lock["who"] == "carol@desk"
    )
    assert lock["locked_by"].startswith("api-key:") and lock["age_seconds"] >= 0
    assert items[b]["serial"] is None
    r = await client.get(
        f"/api/v1/orgs/{keys.org}/states", params={"locked": "true"}, headers=bearer(keys.read)
    )
    assert [s["name"] for s in r.json()["items"]] == [b]
    page = await client.get(f"/api/v1/orgs/{keys.org}/states", params={"limit": 1}, headers=bearer(keys.read))
    assert len(page.json()["items"]) == 1 and page.json()["next_cursor"]


async def test_versions_download_and_restore(client, keys):
    name = unique()
    bodies = {s: state_doc(s, resources=s) for s in (1, 2, 3)}
    for body in bodies.values():
        await _write(client, keys, name, body)
    base = f"/api/v1/orgs/{keys.org}/states/{name}"
    r = await client.get(f"{base}/versions", headers=bearer(keys.read))
    versions = r.json()["items"]
    assert [v["serial"] for v in versions] == [3, 2, 1]
    assert versions[0]["size"] == len(bodies[3]) and versions[0]["created_by"]["type"] == "api_key"
    assert len(versions[0]["sha256"]) == 64 and versions[0]["execution_id"] is None
    r = await client.get(f"{base}/versions/2", headers=bearer(keys.read))
    assert r.status_code == 200 and r.content == bodies[2]
    assert_problem(await client.get(f"{base}/versions/9", headers=bearer(keys.read)), 404)
    # restore needs state:admin
    assert_problem(await client.post(f"{base}/versions/1/restore", headers=bearer(keys.write)), 403)
    r = await client.post(f"{base}/versions/1/restore", headers=bearer(keys.admin))
    assert r.status_code == 201, r.text
    assert r.json()["serial"] == 4 and r.json()["restored_from"] == 1
    current = json.loads((await client.get(f"/tf/{keys.org}/{name}", headers=keys.headers("read"))).content)
    old = json.loads(bodies[1])
    assert current["serial"] == 4 and current["lineage"] == old["lineage"]
    assert current["resources"] == old["resources"]
    # Terraform can keep writing on top of the restored version
    await _write(client, keys, name, state_doc(5))


async def test_restore_refused_while_locked(client, keys):
    name = unique()
    await _write(client, keys, name, state_doc(1))
    await _write(client, keys, name, state_doc(2))
    r = await client.request("LOCK", f"/tf/{keys.org}/{name}/lock", json=lock_info(), headers=keys.headers())
    assert r.status_code == 200
    r = await client.post(
        f"/api/v1/orgs/{keys.org}/states/{name}/versions/1/restore", headers=bearer(keys.admin)
    )
    assert_problem(r, 423)
    versions = await client.get(f"/api/v1/orgs/{keys.org}/states/{name}/versions", headers=bearer(keys.read))
    assert [v["serial"] for v in versions.json()["items"]] == [2, 1]


async def test_outputs_are_masked_unless_admin_asks(client, keys):
    name = unique()
    await _write(client, keys, name, state_doc(1, outputs=OUTPUTS))
    url = f"/api/v1/orgs/{keys.org}/states/{name}/outputs"
    r = await client.get(url, headers=bearer(keys.read))
    outs = {o["name"]: o for o in r.json()["outputs"]}
    assert outs["url"]["value"] == "https://example.test" and not outs["url"]["masked"]
    assert outs["password"]["value"] is None and outs["password"]["masked"] and outs["password"]["sensitive"]
    assert "hunter2" not in r.text
    assert_problem(await client.get(url, params={"show_sensitive": "true"}, headers=bearer(keys.write)), 403)
    r = await client.get(url, params={"show_sensitive": "true"}, headers=bearer(keys.admin))
    outs = {o["name"]: o for o in r.json()["outputs"]}
    assert outs["password"]["value"] == "hunter2-secret" and not outs["password"]["masked"]
    # admin without the flag still sees the mask
    r = await client.get(url, headers=bearer(keys.admin))
    assert "hunter2" not in r.text
    audit = await client.get(
        f"/api/v1/orgs/{keys.org}/audit-logs",
        params={"action": "state.outputs.reveal"},
        headers=bearer(keys.admin),
    )
    assert len(audit.json()["items"]) == 1


async def test_resources(client, keys):
    name = unique()
    doc = json.loads(state_doc(1, resources=2))
    doc["resources"].append(
        {
            "module": "module.net",
            "mode": "data",
            "type": "terraform_remote_state",
            "name": "base",
            "provider": 'provider["terraform.io/builtin/terraform"]',
            "instances": [{"attributes": {}}, {"attributes": {}}],
        }
    )
    await _write(client, keys, name, json.dumps(doc).encode())
    r = await client.get(f"/api/v1/orgs/{keys.org}/states/{name}/resources", headers=bearer(keys.read))
    items = r.json()["resources"]
    assert [i["address"] for i in items] == [
        "terraform_data.r0",
        "terraform_data.r1",
        "module.net.data.terraform_remote_state.base",
    ]
    assert items[2]["module"] == "module.net" and items[2]["instance_count"] == 2
    state = (await client.get(f"/api/v1/orgs/{keys.org}/states/{name}", headers=bearer(keys.read))).json()
    assert state["resource_count"] == 2  # managed resources only


async def test_force_unlock_through_the_api(client, keys):
    name = unique()
    holder = lock_info(who="dave@build")
    await client.request("LOCK", f"/tf/{keys.org}/{name}/lock", json=holder, headers=keys.headers())
    url = f"/api/v1/orgs/{keys.org}/states/{name}/lock"
    assert_problem(await client.delete(url, headers=bearer(keys.write)), 403)
    r = await client.delete(url, headers=bearer(keys.admin))
    assert r.status_code == 200, r.text
    assert r.json()["released"]["id"] == holder["ID"] and r.json()["released"]["who"] == "dave@build"
    r = await client.delete(url, headers=bearer(keys.admin))
    assert r.json()["released"] is None
    audit = await client.get(
        f"/api/v1/orgs/{keys.org}/audit-logs",
        params={"action": "state.force_unlock"},
        headers=bearer(keys.admin),
    )
    assert [e["details"]["who"] for e in audit.json()["items"]] == ["dave@build"]


async def test_delete_state(client, keys):
    name = unique()
    await _write(client, keys, name, state_doc(1))
    url = f"/api/v1/orgs/{keys.org}/states/{name}"
    assert_problem(await client.delete(url, headers=bearer(keys.write)), 403)
    holder = lock_info()
    await client.request("LOCK", f"/tf/{keys.org}/{name}/lock", json=holder, headers=keys.headers())
    assert_problem(await client.delete(url, headers=bearer(keys.admin)), 409)
    await client.request("UNLOCK", f"/tf/{keys.org}/{name}/lock", json=holder, headers=keys.headers())
    assert (await client.delete(url, headers=bearer(keys.admin))).status_code == 204
    assert_problem(await client.get(url, headers=bearer(keys.read)), 404)
    assert (await client.get(f"/tf/{keys.org}/{name}", headers=keys.headers("read"))).status_code == 204


async def test_every_mutation_is_audited(client, keys):
    name = unique()
    holder = lock_info()
    await client.request("LOCK", f"/tf/{keys.org}/{name}/lock", json=holder, headers=keys.headers())
    await _write(client, keys, name, state_doc(1), ID=holder["ID"])
    await client.request("UNLOCK", f"/tf/{keys.org}/{name}/lock", json=holder, headers=keys.headers())
    r = await client.get(
        f"/api/v1/orgs/{keys.org}/audit-logs", params={"action": "state.*"}, headers=bearer(keys.admin)
    )
    entries = {e["action"]: e for e in r.json()["items"]}
    assert sorted(entries) == ["state.create", "state.lock", "state.unlock", "state.write"]
    state = (await client.get(f"/api/v1/orgs/{keys.org}/states/{name}", headers=bearer(keys.read))).json()
    assert {e["object_id"] for e in entries.values()} == {state["id"]}
    for action in ("state.lock", "state.unlock"):
        details = entries[action]["details"]
        assert details == {"name": name, "lock_id": holder["ID"], "operation": holder["Operation"]}
    assert entries["state.write"]["details"]["serial"] == 1
