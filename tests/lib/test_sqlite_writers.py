"""SQLite writers of one process queue in front of BEGIN IMMEDIATE instead of waiting in SQLite's
busy handler (which sleeps, holding a thread, and made 64-way lock races take seconds)."""

from __future__ import annotations

import asyncio
import sqlite3

from piccolo.engine.sqlite import SQLiteEngine

from app.db import engine as db_engine


async def test_concurrent_writers_never_meet_sqlite_busy(tmp_path):
    path = str(tmp_path / "writers.sqlite3")
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE hits (n INTEGER)")
    db_engine.prepare_sqlite_file(path)
    # A busy timeout far shorter than the queue: a writer that waited its turn inside SQLite (in
    # its busy handler) instead of in the process's queue would fail with "database is locked".
    engine = SQLiteEngine(path=path, timeout=0.05)

    async def writer(n: int) -> None:
        async with db_engine.transaction(engine) as tx:
            await tx.connection.execute("INSERT INTO hits VALUES (?)", (n,))
            await asyncio.sleep(0.01)  # hold the write lock while the others arrive
            async with db_engine.transaction(engine) as nested:  # joins, does not queue again
                assert nested is tx

    await asyncio.gather(*(writer(n) for n in range(24)))
    with sqlite3.connect(path) as conn:
        assert sorted(n for (n,) in conn.execute("SELECT n FROM hits")) == list(range(24))
