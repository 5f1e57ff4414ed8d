"""Nothing readable at rest: a canary planted in a state is found in neither the database nor Redis,
and blobs moved between rows do not decrypt."""

from __future__ import annotations

import os
import uuid

import asyncpg
import pytest
from redis.asyncio import Redis

from tests.conftest import BACKEND, REDIS_PREFIX, TEST_REDIS_URL
from tests.states.support import state_doc, unique
from tests.support.api import assert_problem, bearer

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="scans the PostgreSQL test database")


async def _database_dump() -> bytes:
    """Every row of every table in the test database, as bytes (bytea raw, everything else as text)."""
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_type = 'BASE TABLE'"
        )
        out = bytearray()
        for t in tables:
            name = t["table_name"]
            cols = await conn.fetch(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = $1",
                name,
            )
            for row in await conn.fetch(f'SELECT * FROM "{name}"'):
                for col in cols:
                    value = row[col["column_name"]]
                    if value is None:
                        continue
                    out += bytes(value) if col["data_type"] == "bytea" else str(value).encode()
                    out += b"\x00"
        return bytes(out)
    finally:
        await conn.close()


async def _redis_dump() -> bytes:
    redis = Redis.from_url(TEST_REDIS_URL)
    out = bytearray()
    try:
        async for key in redis.scan_iter(match=f"{REDIS_PREFIX}*", count=1000):
            out += key + b"\x00"
            kind = (await redis.type(key)).decode()
            if kind == "string":
                out += (await redis.get(key)) or b""
            elif kind == "hash":
                for k, v in (await redis.hgetall(key)).items():
                    out += k + v
            elif kind in ("list",):
                out += b"".join(await redis.lrange(key, 0, -1))
            elif kind in ("set",):
                out += b"".join(await redis.smembers(key))
            elif kind == "zset":
                out += b"".join(m for m, _ in await redis.zrange(key, 0, -1, withscores=True))
    finally:
        await redis.aclose()
    return bytes(out)


async def test_canary_is_nowhere_in_the_database_or_redis(client, keys):
    canary = f"CANARY-{uuid.uuid4().hex}"
    name = unique("canary")
    outputs = {"secret": {"value": canary, "type": "string", "sensitive": True}}
    for serial in (1, 2):
        body = state_doc(serial, resources=5, value=lambda _: canary, outputs=outputs)
        r = await client.post(f"/tf/{keys.org}/{name}", content=body, headers=keys.headers())
        assert r.status_code == 200
    # the API can read it back, so it really was stored
    got = await client.get(f"/tf/{keys.org}/{name}", headers=keys.headers("read"))
    assert canary.encode() in got.content
    db, redis = await _database_dump(), await _redis_dump()
    assert name.encode() in db, "the scan must see plain columns (positive control)"
    for blob in (db, redis):
        assert canary.encode() not in blob
        assert canary.encode().hex().encode() not in blob
        assert base64_of(canary) not in blob


def base64_of(text: str) -> bytes:
    import base64

    return base64.b64encode(text.encode())[:20]


async def test_blobs_swapped_between_states_do_not_decrypt(client, keys):
    a, b = unique("swap-a"), unique("swap-b")
    for name in (a, b):
        r = await client.post(f"/tf/{keys.org}/{name}", content=state_doc(1), headers=keys.headers())
        assert r.status_code == 200
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        rows = {
            r["name"]: r
            for r in await conn.fetch(
                "SELECT s.name, v.id, v.wrapped_key, v.ciphertext FROM state_versions v "
                "JOIN states s ON s.id = v.state WHERE s.name = ANY($1::varchar[])",
                [a, b],
            )
        }
        # swap the ciphertext only, then ciphertext and wrapped key together: both must fail
        await conn.execute(
            "UPDATE state_versions SET ciphertext = $1 WHERE id = $2", rows[b]["ciphertext"], rows[a]["id"]
        )
        r = await client.get(f"/tf/{keys.org}/{a}", headers=keys.headers("read"))
        assert_problem(r, 500)
        assert r.json()["type"].endswith("state-unreadable")
        await conn.execute(
            "UPDATE state_versions SET ciphertext = $1, wrapped_key = $2 WHERE id = $3",
            rows[a]["ciphertext"],
            rows[a]["wrapped_key"],
            rows[b]["id"],
        )
        r = await client.get(f"/api/v1/orgs/{keys.org}/states/{b}/versions/1", headers=bearer(keys.read))
        assert_problem(r, 500)
        # the untouched-but-swapped blob is unreadable, and no plaintext leaks into the error
        assert b"terraform_data" not in r.content
    finally:
        await conn.close()
