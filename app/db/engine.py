"""The database engine factory: PostgreSQL (asyncpg pool) or SQLite (WAL, busy timeout).

This is the only place that knows which database is in use. Domain code uses Piccolo tables and
``transaction()``; both work the same on either engine.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from asyncpg.exceptions import UniqueViolationError
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.querystring import QueryString

from app.config import Settings
from app.db.sqlite import PooledSQLiteEngine, QueuedWriter

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def make_engine(settings: Settings) -> Engine:
    """Build the Piccolo engine the settings ask for (no connection is opened here)."""
    if settings.database.url is not None:
        return PostgresEngine(config={"dsn": settings.database.url})
    path = settings.database.sqlite_path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return PooledSQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_SECONDS)


def prepare_sqlite_file(path: str) -> None:
    """WAL mode lets in-process workers and requests write side by side; it persists in the file.
    The database holds password hashes and encrypted states: owner only (0600), its -wal and -shm
    files too (SQLite creates them with the database's mode; older installs get theirs fixed)."""
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for file in (path, f"{path}-wal", f"{path}-shm"):
        if os.path.exists(file) and os.stat(file).st_mode & 0o077:
            os.chmod(file, 0o600)
    with sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")


async def _keep_session(connection: Any) -> None:
    """Pool release hook. asyncpg always rolls back an open transaction first; by default it then
    runs ``RESET ALL; UNLISTEN *; CLOSE ALL; SELECT pg_advisory_unlock_all()`` — one more round
    trip after every query. Board3 keeps no session state on pooled connections (its advisory
    lock uses a connection of its own), so nothing is left to reset."""


# Connections whose commits PostgreSQL acknowledges before flushing them to disk (asynchronous
# commit), for the writes that may be relaxed: see ``run_relaxed``. None when every commit must be
# durable (BOARD3_DURABLE_LOCKS) and on SQLite.
_relaxed_pool: asyncpg.Pool | None = None


async def start(engine: Engine, settings: Settings) -> None:
    global _relaxed_pool
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(
            min_size=settings.database.pool_min, max_size=settings.database.pool_max, reset=_keep_session
        )
        if not settings.database.durable_locks and _relaxed_pool is None:
            _relaxed_pool = await asyncpg.create_pool(
                **engine.config,
                min_size=1,
                max_size=max(2, settings.database.pool_max // 2),
                reset=_keep_session,
                server_settings={"synchronous_commit": "off"},
            )
    elif isinstance(engine, SQLiteEngine):
        prepare_sqlite_file(engine.path)
        if isinstance(engine, PooledSQLiteEngine):
            engine.open_pool()


async def stop(engine: Engine) -> None:
    global _relaxed_pool
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()
        if _relaxed_pool is not None:
            pool, _relaxed_pool = _relaxed_pool, None
            await pool.close()
    elif isinstance(engine, PooledSQLiteEngine):
        await engine.close_pool()


async def run_relaxed(
    engine: Engine, statement: QueryString | str, args: Sequence[Any] = ()
) -> list[dict[str, Any]] | None:
    """Run one self-contained statement on a connection with asynchronous commit, or return None
    when there is none (durable commits configured, SQLite, or inside a transaction, whose
    connection the statement must use). PostgreSQL then acknowledges the commit before its WAL
    reaches the disk: a crash of PostgreSQL itself (not of Board3) within about 0.6 s can lose it,
    whole, and nothing else; it saves the fsync wait (about 1 ms here) on each such write."""
    pool = _relaxed_pool
    if pool is None or engine.current_transaction.get() is not None:
        return None
    if isinstance(statement, QueryString):
        statement, args = statement.compile_string(engine_type=engine.engine_type)
    return [dict(row) for row in await pool.fetch(statement, *args)]


async def run_sql(engine: PostgresEngine, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
    """Run compiled SQL (``$n`` placeholders) in the current transaction, or on a pooled
    connection outside one: ``run_querystring`` without building a ``QueryString``."""
    current = engine.current_transaction.get()
    if current is not None:
        rows = await current.connection.fetch(sql, *args)
    else:
        if engine.pool is None:
            raise RuntimeError("the database pool is not running")
        async with engine.pool.acquire() as connection:
            rows = await connection.fetch(sql, *args)
    return [dict(row) for row in rows]


@asynccontextmanager
async def transaction(engine: Engine) -> AsyncIterator[Any]:
    """A write transaction. On SQLite it takes the write lock up front (BEGIN IMMEDIATE), so two
    writers never fail on a lock upgrade, and the writers of this process queue on an asyncio lock
    before that (``app.db.sqlite.QueuedWriter``)."""
    if isinstance(engine, SQLiteEngine):
        async with QueuedWriter(engine, transaction_type=TransactionType.immediate) as tx:
            yield tx  # nested: joins the outer transaction (and its place in the queue)
    else:
        async with engine.transaction() as tx:
            yield tx


def is_unique_violation(exc: BaseException) -> bool:
    """True for a unique-constraint violation on either engine."""
    if isinstance(exc, UniqueViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc).upper()
