"""The /tf protocol through the whole ASGI app: reads, writes, the bad-input table, locks, auth."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.states.support import basic, lock_info, md5_header, state_doc, unique
from tests.support.api import assert_problem, bearer


async def _versions(client, keys, name):
    r = await client.get(f"/api/v1/orgs/{keys.org}/states/{name}/versions", headers=bearer(keys.admin))
    assert r.status_code == 200, r.text
    return [v["serial"] for v in r.json()["items"]]


async def _current(client, keys, name):
    r = await client.get(f"/tf/{keys.org}/{name}", headers=keys.headers("read"))
    return r.status_code, r.content


async def test_get_missing_state_is_204_then_post_and_get_round_trip(client, keys):
    name = unique()
    url = f"/tf/{keys.org}/{name}"
    assert (await client.get(url, headers=keys.headers("read"))).status_code == 204
    body = state_doc(1, resources=3)
    r = await client.post(url, content=body, headers=keys.headers() | md5_header(body))
    assert r.status_code == 200, r.text
    r = await client.get(url, headers=keys.headers("read"))
    assert r.status_code == 200
    assert r.content == body
    assert r.headers["content-md5"] == md5_header(body)["Content-MD5"]
    assert await _versions(client, keys, name) == [1]
    state = (await client.get(f"/api/v1/orgs/{keys.org}/states/{name}", headers=bearer(keys.read))).json()
    assert (state["serial"], state["size"], state["resource_count"]) == (1, len(body), 3)


async def test_chunked_body_is_read(client, keys):
    name = unique()
    body = state_doc(1, resources=50)

    async def chunks():
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    r = await client.post(f"/tf/{keys.org}/{name}", content=chunks(), headers=keys.headers())
    assert r.status_code == 200, r.text
    assert (await _current(client, keys, name)) == (200, body)


BAD_INPUTS = [
    ("not json", lambda: b"this is not json", 400),
    ("json array", lambda: b"[1, 2, 3]", 400),
    ("truncated json", lambda: state_doc(5)[:-20], 400),
    (
        "missing lineage",
        lambda: json.dumps({"version": 4, "serial": 5, "terraform_version": "1"}).encode(),
        400,
    ),
    (
        "missing serial",
        lambda: json.dumps({"version": 4, "lineage": "x", "terraform_version": "1"}).encode(),
        400,
    ),
    ("serial not int", lambda: state_doc(5).replace(b'"serial": 5', b'"serial": "5"'), 400),
    ("unsupported version", lambda: state_doc(5, version=3), 400),
    ("future version", lambda: state_doc(5, version=5), 400),
    ("empty body", lambda: b"", 400),
    ("lower serial", lambda: state_doc(1), 409),
    ("same serial other bytes", lambda: state_doc(2, resources=2), 409),
    ("other lineage", lambda: state_doc(3, lineage="99999999-0000-0000-0000-000000000000"), 409),
]


@pytest.mark.parametrize(("case", "make", "status"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
async def test_bad_writes_are_refused_and_change_nothing(client, keys, case, make, status):
    name = unique()
    url = f"/tf/{keys.org}/{name}"
    good = state_doc(2, resources=1)
    assert (await client.post(url, content=good, headers=keys.headers())).status_code == 200
    r = await client.post(url, content=make(), headers=keys.headers())
    assert_problem(r, status)
    assert (await _current(client, keys, name)) == (200, good)
    assert await _versions(client, keys, name) == [2]


async def test_identical_rewrite_is_200_without_new_version(client, keys):
    name = unique()
    url = f"/tf/{keys.org}/{name}"
    body = state_doc(4)
    for _ in range(3):
        assert (await client.post(url, content=body, headers=keys.headers())).status_code == 200
    assert await _versions(client, keys, name) == [4]
    assert (await client.post(url, content=state_doc(5), headers=keys.headers())).status_code == 200
    assert await _versions(client, keys, name) == [5, 4]


async def test_forced_write_needs_state_admin_and_becomes_the_next_version(client, keys):
    name = unique()
    url = f"/tf/{keys.org}/{name}"
    assert (await client.post(url, content=state_doc(5), headers=keys.headers())).status_code == 200
    other = "99999999-0000-0000-0000-000000000000"
    foreign = state_doc(2, lineage=other, resources=3)
    force = {"force": "true"}
    assert_problem(await client.post(url, content=foreign, headers=keys.headers()), 409)
    assert_problem(await client.post(url, params=force, content=foreign, headers=keys.headers()), 403)
    assert await _versions(client, keys, name) == [5]
    # an older serial of another lineage is stored as current + 1, with its own lineage and content
    r = await client.post(url, params=force, content=foreign, headers=keys.headers("admin"))
    assert r.status_code == 200, r.text
    stored = json.loads((await _current(client, keys, name))[1])
    assert (stored["serial"], stored["lineage"]) == (6, other)
    assert stored["resources"] == json.loads(foreign)["resources"]
    # a higher serial is stored byte for byte; the same bytes again store nothing
    higher = state_doc(9, lineage=other)
    for _ in range(2):
        r = await client.post(url, params=force, content=higher, headers=keys.headers("admin"))
        assert r.status_code == 200, r.text
    assert await _current(client, keys, name) == (200, higher)
    assert await _versions(client, keys, name) == [9, 6, 5]
    r = await client.get(
        f"/api/v1/orgs/{keys.org}/audit-logs", params={"action": "state.write"}, headers=bearer(keys.admin)
    )
    assert sorted(e["details"]["serial"] for e in r.json()["items"] if e["details"].get("forced")) == [6, 9]


async def test_concurrent_writes_of_one_serial_store_exactly_one(client, keys):
    name = unique()
    url = f"/tf/{keys.org}/{name}"
    assert (await client.post(url, content=state_doc(1), headers=keys.headers())).status_code == 200
    bodies = [state_doc(2) for _ in range(10)]  # fresh resource ids in each: ten different bodies
    responses = await asyncio.gather(*(client.post(url, content=b, headers=keys.headers()) for b in bodies))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 9, statuses
    winner = bodies[next(i for i, r in enumerate(responses) if r.status_code == 200)]
    assert await _current(client, keys, name) == (200, winner)
    assert await _versions(client, keys, name) == [2, 1]


async def test_write_to_a_state_recreated_meanwhile_is_refused(client, keys, monkeypatch):
    """The blob is bound to the state id read first: storing it under a new row of the same name
    would leave a version that never decrypts."""
    from app.states import backend
    from app.states.tables import State

    name = unique()
    url = f"/tf/{keys.org}/{name}"
    assert (await client.post(url, content=state_doc(1), headers=keys.headers())).status_code == 200
    encrypt = backend._encrypt

    async def recreate_then_encrypt(access, state_id, version_id, body):
        await State.delete().where(State.id == state_id)
        await State.insert(State(organization=access.organization_id, name=name))
        return await encrypt(access, state_id, version_id, body)

    monkeypatch.setattr(backend, "_encrypt", recreate_then_encrypt)
    assert_problem(await client.post(url, content=state_doc(2), headers=keys.headers()), 409)
    monkeypatch.undo()
    assert (await _current(client, keys, name))[0] == 204
    assert await _versions(client, keys, name) == []


async def test_content_md5_is_checked(client, keys):
    name = unique()
    url = f"/tf/{keys.org}/{name}"
    body = state_doc(1)
    wrong = md5_header(b"something else")
    assert_problem(await client.post(url, content=body, headers=keys.headers() | wrong), 400)
    assert_problem(await client.post(url, content=body, headers=keys.headers() | {"Content-MD5": "!!"}), 400)
    assert (await _current(client, keys, name))[0] == 204


async def test_too_large_is_413_and_changes_nothing(client, keys, monkeypatch):
    from app.config import get_settings

    name = unique()
    url = f"/tf/{keys.org}/{name}"
    limit = get_settings().limits.max_state_bytes
    good = state_doc(1)
    assert (await client.post(url, content=good, headers=keys.headers())).status_code == 200
    big = b" " * (limit + 1)
    refused = assert_problem(await client.post(url, content=big, headers=keys.headers()), 413)
    assert (refused["limit"], refused["setting"]) == (limit, "BOARD3_MAX_STATE_BYTES")
    assert f"limit of {limit} bytes" in refused["detail"] and "BOARD3_MAX_STATE_BYTES" in refused["detail"]

    async def chunks():  # no Content-Length: counted while streaming
        for _ in range(limit // (1 << 20) + 1):
            yield b" " * (1 << 20)

    assert_problem(await client.post(url, content=chunks(), headers=keys.headers()), 413)
    assert (await _current(client, keys, name)) == (200, good)


async def test_lock_conflict_unlock_and_write_under_lock(client, keys):
    name = unique()
    url = f"/tf/{keys.org}/{name}"
    holder = lock_info(operation="OperationTypeApply", who="alice@laptop")
    r = await client.request("LOCK", f"{url}/lock", json=holder, headers=keys.headers())
    assert r.status_code == 200, r.text
    # a second LOCK (also on the state address itself, as the Terraform docs configure it)
    for target in (f"{url}/lock", url):
        r = await client.request("LOCK", target, json=lock_info(), headers=keys.headers())
        body = assert_problem(r, 423)
        assert body["ID"] == holder["ID"] and body["Who"] == "alice@laptop"
        assert body["Operation"] == "OperationTypeApply"
    # writes need the holder's id
    body = state_doc(1)
    assert_problem(await client.post(url, content=body, headers=keys.headers()), 423)
    assert_problem(await client.post(url, params={"ID": "other"}, content=body, headers=keys.headers()), 423)
    assert (await _current(client, keys, name))[0] == 204
    r = await client.post(url, params={"ID": holder["ID"]}, content=body, headers=keys.headers())
    assert r.status_code == 200, r.text
    # UNLOCK with another id is refused with the holder's info; the holder's id releases
    r = await client.request("UNLOCK", f"{url}/lock", json=lock_info(), headers=keys.headers())
    assert assert_problem(r, 423)["ID"] == holder["ID"]
    r = await client.request("UNLOCK", f"{url}/lock", json=holder, headers=keys.headers())
    assert r.status_code == 200, r.text
    # a repeated UNLOCK (Terraform retries) is still 200; a state that does not exist is 404
    r = await client.request("UNLOCK", f"{url}/lock", json=holder, headers=keys.headers())
    assert r.status_code == 200, r.text
    missing = f"/tf/{keys.org}/{unique()}/lock"
    assert_problem(await client.request("UNLOCK", missing, json=holder, headers=keys.headers()), 404)
    # a stale id after release is refused; a plain write goes through
    assert_problem(
        await client.post(url, params={"ID": holder["ID"]}, content=state_doc(2), headers=keys.headers()), 409
    )
    assert (await client.post(url, content=state_doc(2), headers=keys.headers())).status_code == 200


async def test_post_and_delete_on_lock_path_work_like_lock_and_unlock(client, keys):
    name = unique()
    url = f"/tf/{keys.org}/{name}/lock"
    info = lock_info()
    assert (await client.post(url, json=info, headers=keys.headers())).status_code == 200
    assert_problem(await client.post(url, json=lock_info(), headers=keys.headers()), 423)
    assert (await client.request("DELETE", url, json=info, headers=keys.headers())).status_code == 200
    assert (await client.post(url, json=lock_info(), headers=keys.headers())).status_code == 200


@pytest.mark.parametrize("body", [b"", b"not json", b"{}", b'{"ID": ""}', b'{"ID": 5}'])
async def test_bad_lock_bodies_are_400(client, keys, body):
    r = await client.request("LOCK", f"/tf/{keys.org}/{unique()}/lock", content=body, headers=keys.headers())
    assert_problem(r, 400)


async def test_force_unlock_needs_state_admin_and_is_audited(client, keys):
    name = unique()
    url = f"/tf/{keys.org}/{name}/lock"
    holder = lock_info(who="bob@ci")
    assert (await client.request("LOCK", url, json=holder, headers=keys.headers())).status_code == 200
    # terraform force-unlock: UNLOCK with an empty body
    assert_problem(await client.request("UNLOCK", url, content=b"", headers=keys.headers("write")), 403)
    state = (await client.get(f"/api/v1/orgs/{keys.org}/states/{name}", headers=bearer(keys.read))).json()
    assert state["lock"]["id"] == holder["ID"]  # the refused force-unlock released nothing
    r = await client.request("UNLOCK", url, content=b"", headers=keys.headers("admin"))
    assert r.status_code == 200, r.text
    state = (await client.get(f"/api/v1/orgs/{keys.org}/states/{name}", headers=bearer(keys.read))).json()
    assert state["lock"] is None
    r = await client.get(
        f"/api/v1/orgs/{keys.org}/audit-logs",
        params={"action": "state.force_unlock"},
        headers=bearer(keys.admin),
    )
    entries = r.json()["items"]
    assert len(entries) == 1 and entries[0]["details"]["lock_id"] == holder["ID"]


async def test_permissions_and_credentials(client, keys, api):
    name = unique()
    url = f"/tf/{keys.org}/{name}"
    r = await client.get(url)
    assert_problem(r, 401)
    assert r.headers["www-authenticate"].startswith("Basic")
    assert_problem(await client.get(url, headers=basic("b3k_not_a_key")), 401)
    assert_problem(await client.post(url, content=state_doc(1), headers=keys.headers("read")), 403)
    assert_problem(
        await client.request("LOCK", f"{url}/lock", json=lock_info(), headers=keys.headers("read")), 403
    )
    # Bearer works too
    assert (await client.post(url, content=state_doc(1), headers=bearer(keys.write))).status_code == 200
    assert (await client.get(url, headers=bearer(keys.read))).status_code == 200


# ("..." rather than "..": the client would collapse ".." and the request would never reach the route)
@pytest.mark.parametrize("name", ["has space", "a" * 129, "...", "semi;colon", "ünï"])
async def test_invalid_state_names_are_400(client, keys, name):
    url = f"/tf/{keys.org}/{name}"
    for response in (
        await client.post(url, content=state_doc(1), headers=keys.headers()),
        await client.request("LOCK", f"{url}/lock", json=lock_info(), headers=keys.headers()),
    ):
        assert assert_problem(response, 400)["type"].endswith("/invalid-state-name")
    listed = await client.get(f"/api/v1/orgs/{keys.org}/states", headers=bearer(keys.read))
    assert listed.json()["items"] == []


async def test_another_organization_gets_404_everywhere(client, keys, api):
    name = unique()
    url = f"/tf/{keys.org}/{name}"
    body = state_doc(1)
    assert (await client.post(url, content=body, headers=keys.headers())).status_code == 200
    holder = lock_info()
    other = await api.register("intruder")
    intruder = await api.api_key(other, scopes=["state:read", "state:write", "state:admin"])
    h, b = basic(intruder), bearer(intruder)
    api_base = f"/api/v1/orgs/{keys.org}/states"
    attempts = [
        client.get(url, headers=h),
        client.post(url, content=state_doc(2), headers=h),
        client.request("LOCK", f"{url}/lock", json=holder, headers=h),
        client.request("UNLOCK", f"{url}/lock", json=holder, headers=h),
        client.request("UNLOCK", f"{url}/lock", content=b"", headers=h),
        client.post(f"{url}/lock", json=holder, headers=h),
        client.delete(f"{url}/lock", headers=h),
        client.get(api_base, headers=b),
        client.get(f"{api_base}/{name}", headers=b),
        client.delete(f"{api_base}/{name}", headers=b),
        client.get(f"{api_base}/{name}/versions", headers=b),
        client.get(f"{api_base}/{name}/versions/1", headers=b),
        client.post(f"{api_base}/{name}/versions/1/restore", headers=b),
        client.get(f"{api_base}/{name}/outputs", headers=b),
        client.get(f"{api_base}/{name}/resources", headers=b),
        client.delete(f"{api_base}/{name}/lock", headers=b),
    ]
    for attempt in attempts:
        assert_problem(await attempt, 404)
    # a user of another organization (JWT) too
    assert_problem(await client.get(f"{api_base}/{name}", headers=other.headers), 404)
    assert (await _current(client, keys, name)) == (200, body)
    assert await _versions(client, keys, name) == [1]
