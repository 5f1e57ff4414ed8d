"""Embedded mode reuses SQLite connections while the app runs (a new one costs a thread and a
schema read, about 2 ms of CPU), lends at most a fixed number at once, and closes them all at
stop so the process can exit."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from piccolo.engine import sqlite as piccolo_sqlite

from app.db import engine as db_engine
from app.db import sqlite as pooled
from app.db.sqlite import PooledSQLiteEngine


@pytest.fixture
def opened(monkeypatch, tmp_path):
    path = str(tmp_path / "pool.sqlite3")
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (n INTEGER)")
    counts = {"opened": 0, "open_now": 0, "most_open": 0}
    real_connect = piccolo_sqlite.aiosqlite.connect

    def counting_connect(*args, **kwargs):
        counts["opened"] += 1
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(piccolo_sqlite.aiosqlite, "connect", counting_connect)
    return PooledSQLiteEngine(path=path, timeout=5), counts


async def test_connections_are_reused_while_the_pool_is_open_and_closed_at_stop(opened):
    engine, counts = opened
    engine.open_pool()
    for n in range(20):
        await engine._run_in_new_connection("INSERT INTO t VALUES (?)", [n])
        async with db_engine.transaction(engine) as tx:
            await tx.connection.execute("INSERT INTO t VALUES (?)", (-n,))
    rows = await engine._run_in_new_connection("SELECT count(*) AS c FROM t")
    assert rows[0]["c"] == 40 and counts["opened"] == 1
    with pytest.raises(sqlite3.OperationalError):  # a failing statement does not spoil the pool
        await engine._run_in_new_connection("SELECT * FROM missing")
    assert (await engine._run_in_new_connection("SELECT count(*) AS c FROM t"))[0]["c"] == 40
    await engine.close_pool()
    assert engine._idle == []
    before = counts["opened"]
    await engine._run_in_new_connection("SELECT 1")  # no pool: opened and closed, as Piccolo does
    await engine._run_in_new_connection("SELECT 1")
    assert counts["opened"] == before + 2 and engine._idle == []


async def test_at_most_a_fixed_number_of_connections_are_lent_at_once(opened, monkeypatch):
    engine, _ = opened
    monkeypatch.setattr(pooled, "CONNECTIONS", 4)
    engine.open_pool()
    lent_at_most = 0
    real_acquire = engine.acquire

    async def watched():
        nonlocal lent_at_most
        connection = await real_acquire()
        lent_at_most = max(lent_at_most, len(engine._lent))
        return connection

    engine.acquire = watched
    await asyncio.gather(*(engine._run_in_new_connection("SELECT ?", [n]) for n in range(40)))
    assert lent_at_most == 4 and len(engine._idle) == 4 and not engine._lent
    await engine.close_pool()
