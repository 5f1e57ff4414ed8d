"""Master keys against real processes on a database of their own: the start-up canary refuses a
wrong key, and `board3 keys rotate` while writes continue loses nothing and retires the old key."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import threading
import time
import uuid

import asyncpg
import httpx
import pytest

from tests.conftest import BACKEND, RUN_ID, _admin, _database_url
from tests.states.support import basic, register_with_key, state_doc
from tests.support.api import bearer
from tests.support.server import BOARD3, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.skipif(BACKEND != "postgres", reason="needs PostgreSQL")]


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def database(live_server_env):
    """A fresh, migrated database for this test only (key tests must not see other tests' rows)."""
    name = f"board3_test_{RUN_ID}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = _database_url(name)
    subprocess.run(
        [str(BOARD3), "migrate"], cwd=ROOT, env=live_server_env | {"DATABASE_URL": url}, check=True
    )
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_wrong_key_material_refuses_to_start(database, live_server):
    right, wrong = f"k1:{_key()}", f"k1:{_key()}"
    server = live_server(DATABASE_URL=database, BOARD3_ENCRYPTION_KEYS=right)
    org, key = register_with_key(server.url, "keys")
    r = httpx.post(f"{server.url}/tf/{org}/s", content=state_doc(1), headers=basic(key))
    assert r.status_code == 200
    server.stop()
    with pytest.raises(RuntimeError) as refused:
        live_server(DATABASE_URL=database, BOARD3_ENCRYPTION_KEYS=wrong)
    assert "cannot unwrap the stored canary" in str(refused.value)
    assert wrong.split(":")[1] not in str(refused.value)
    # a keyring without the key that versions depend on is refused too
    with pytest.raises(RuntimeError) as missing:
        live_server(DATABASE_URL=database, BOARD3_ENCRYPTION_KEYS=f"k2:{_key()}")
    assert "k1" in str(missing.value) and "keys rotate" in str(missing.value)
    # the right key starts again and reads the state
    again = live_server(DATABASE_URL=database, BOARD3_ENCRYPTION_KEYS=right)
    assert httpx.get(f"{again.url}/tf/{org}/s", headers=basic(key)).status_code == 200


async def _key_ids(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT key_id, count(*) AS n FROM state_versions GROUP BY key_id")
        return {r["key_id"]: r["n"] for r in rows}
    finally:
        await conn.close()


def _rotate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BOARD3), "keys", "rotate", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_rotation_while_writes_continue(database, live_server, live_server_env):
    old, new = f"old:{_key()}", f"new:{_key()}"
    first = live_server(DATABASE_URL=database, BOARD3_ENCRYPTION_KEYS=old)
    org, key = register_with_key(first.url, "keys")
    names = [f"rot-{i}" for i in range(4)]
    written: dict[str, list[bytes]] = {n: [] for n in names}
    serial = {n: 0 for n in names}

    def write(server, name):
        serial[name] += 1
        body = state_doc(serial[name], resources=3)
        r = httpx.post(f"{server.url}/tf/{org}/{name}", content=body, headers=basic(key), timeout=30)
        assert r.status_code == 200, r.text
        written[name].append(body)

    for _ in range(30):
        for name in names:
            write(first, name)
    first.stop()
    assert asyncio.run(_key_ids(database)) == {"old": 120}

    env = live_server_env | {"DATABASE_URL": database, "BOARD3_ENCRYPTION_KEYS": f"{new},{old}"}
    second = live_server(DATABASE_URL=database, BOARD3_ENCRYPTION_KEYS=f"{new},{old}")
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer():
        try:
            while not stop.is_set():
                for name in names:
                    write(second, name)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        # an interrupted rotation (killed after its first batch) is simply run again
        interrupted = subprocess.Popen(
            [str(BOARD3), "keys", "rotate", "--batch-size", "5"],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert interrupted.stderr is not None
        for line in interrupted.stderr:
            if "re-wrapped" in line:
                break
        interrupted.kill()
        interrupted.wait()
        partial = asyncio.run(_key_ids(database))
        assert partial.get("old", 0) < 120
        done = _rotate(env)
        assert done.returncode == 0, done.stderr
        time.sleep(0.5)  # writes keep landing during and after the rotation
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    again = _rotate(env)
    assert again.returncode == 0 and "re-wrapped 0 data key(s)" in again.stderr, again.stderr
    counts = asyncio.run(_key_ids(database))
    assert set(counts) == {"new"} and counts["new"] == sum(len(v) for v in written.values())
    second.stop()

    # the old key is gone: everything still reads back, byte for byte
    third = live_server(DATABASE_URL=database, BOARD3_ENCRYPTION_KEYS=new)
    for name in names:
        base = f"{third.url}/api/v1/orgs/{org}/states/{name}"
        listed = httpx.get(f"{base}/versions", params={"limit": 200}, headers=bearer(key)).json()["items"]
        assert len(listed) == len(written[name])
        for version in listed:
            assert version["key_id"] == "new"
            got = httpx.get(f"{base}/versions/{version['serial']}", headers=bearer(key))
            assert got.status_code == 200 and got.content == written[name][version["serial"] - 1]
    status = subprocess.run(
        [str(BOARD3), "keys", "status"],
        cwd=ROOT,
        env=live_server_env | {"DATABASE_URL": database, "BOARD3_ENCRYPTION_KEYS": new},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "new:" in status.stdout and "old" not in status.stdout


def test_rotation_re_wraps_sensitive_pipeline_variables_too(database, live_server, live_server_env):
    """Every sealed table is rotated: a sensitive variable stays readable once the old key is gone."""
    from app.lib import crypto
    from app.pipelines.tables import variable_context
    from tests.pipelines.support import data_canvas, register

    old, new = f"old:{_key()}", f"new:{_key()}"
    server = live_server(DATABASE_URL=database, BOARD3_ENCRYPTION_KEYS=old)
    client = register(server.url, "rotvars")
    pipeline = client.pipeline(client.design(data_canvas(1)), "dev")
    client.ok(
        "POST",
        f"/api/v1/pipelines/{pipeline['id']}/variables",
        201,
        json={"key": "token", "value": "rotate-me-please", "sensitive": True},
    )
    server.stop()
    env = live_server_env | {"DATABASE_URL": database, "BOARD3_ENCRYPTION_KEYS": f"{new},{old}"}
    done = _rotate(env)
    assert done.returncode == 0 and "re-wrapped 1 data key(s)" in done.stderr, done.stderr

    async def stored() -> dict:
        conn = await asyncpg.connect(database)
        try:
            return dict(await conn.fetchrow("SELECT * FROM pipeline_variables WHERE key = 'token'"))
        finally:
            await conn.close()

    row = asyncio.run(stored())
    assert row["key_id"] == "new"
    envelope = crypto.Envelope(
        row["enc_format"], row["key_id"], bytes(row["wrapped_key"]), bytes(row["ciphertext"])
    )
    context = variable_context(row["organization"], row["pipeline"], row["id"])
    assert crypto.parse_keys(new).decrypt(envelope, context) == b"rotate-me-please"
    # With only the new key the server starts: nothing depends on the old one any more.
    assert live_server(DATABASE_URL=database, BOARD3_ENCRYPTION_KEYS=new).url
