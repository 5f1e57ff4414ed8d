"""SQLite (embedded mode) as one process serves it: reused connections and queued writers.

Piccolo's SQLite engine opens a connection for every query and every transaction: a new aiosqlite
thread, and SQLite reading the schema again, about 2 ms of CPU each against 0.3 ms for a query on
an open connection. ``PooledSQLiteEngine`` lends at most ``CONNECTIONS`` connections at once
(queries beyond wait for one) and keeps them open while the application runs, between
``engine.start`` and ``engine.stop``: their threads must be closed before the process can exit, so
outside that window every connection is closed after use, as before.

SQLite admits one writer at a time. Writers of this process queue on an asyncio lock held from
before ``BEGIN IMMEDIATE`` until ``COMMIT`` (``QueuedWriter``) instead of waiting in SQLite's busy
handler, which sleeps up to 100 ms a turn: 64 concurrent LOCKs took about 1.7 s a round that way.
The busy timeout still covers writers in other processes.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from typing import Any

import aiosqlite
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction
from piccolo.table import Table

CONNECTIONS = 16

_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _writer_lock() -> asyncio.Lock:
    """One queue of writers per event loop (a process has one loop serving requests)."""
    loop = asyncio.get_running_loop()
    lock = _writers.get(loop)
    if lock is None:
        lock = _writers[loop] = asyncio.Lock()
    return lock


class PooledSQLiteEngine(SQLiteEngine):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots: asyncio.Semaphore | None = None  # None: not reusing connections
        self._idle: list[aiosqlite.Connection] = []
        self._lent: set[aiosqlite.Connection] = set()

    def open_pool(self) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(CONNECTIONS)

    async def close_pool(self) -> None:
        self._slots = None
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()

    async def acquire(self) -> aiosqlite.Connection:
        """An open connection, reused when one is idle; give it back with ``give_back``."""
        slots = self._slots
        if slots is None:
            connection: aiosqlite.Connection = await self.get_connection()
            return connection
        await slots.acquire()
        try:
            connection = self._idle.pop() if self._idle else await self.get_connection()
        except BaseException:
            slots.release()
            raise
        self._lent.add(connection)
        return connection

    async def give_back(self, connection: aiosqlite.Connection, *, broken: bool = False) -> None:
        """Keep ``connection`` for reuse if it is clean and the pool is open, else close it."""
        lent = connection in self._lent
        self._lent.discard(connection)
        try:
            if not broken and lent and self._slots is not None:
                try:
                    if connection.in_transaction:
                        await connection.rollback()
                except sqlite3.Error:
                    pass
                else:
                    self._idle.append(connection)
                    return
            await connection.close()
        finally:
            if lent and self._slots is not None:
                self._slots.release()

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: type[Table] | None = None,
    ) -> Any:
        """A statement outside a transaction, on a lent connection (Piccolo's own opens one)."""
        if self._slots is None:
            return await super()._run_in_new_connection(query, args, query_type, table)
        connection = await self.acquire()
        try:
            async with connection.execute(query, args or []) as cursor:
                await connection.commit()
                rows = await cursor.fetchall()
        except BaseException:
            await self.give_back(connection, broken=True)
            raise
        await self.give_back(connection)
        return rows


class QueuedWriter(SQLiteTransaction):
    """A write transaction that takes this process's writer lock before its connection and holds
    it until it ends; the connection then goes back to the engine. A BEGIN that fails (another
    process held the database past the busy timeout) does not leave it open, as Piccolo's would."""

    _writer: asyncio.Lock | None = None

    async def get_connection(self) -> aiosqlite.Connection:
        writer = _writer_lock()
        await writer.acquire()
        try:
            engine = self.engine
            connection: aiosqlite.Connection = await (
                engine.acquire() if isinstance(engine, PooledSQLiteEngine) else engine.get_connection()
            )
        except BaseException:
            writer.release()
            raise
        self._writer = writer
        return connection

    async def begin(self) -> None:
        try:
            await super().begin()
        except BaseException:
            self._release()
            await self._give_back(broken=True)
            raise

    def _release(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.release()

    async def _give_back(self, *, broken: bool = False) -> None:
        if isinstance(self.engine, PooledSQLiteEngine):
            await self.engine.give_back(self.connection, broken=broken)
        else:
            await self.connection.close()

    async def commit(self) -> None:
        try:
            await super().commit()
        finally:
            self._release()

    async def rollback(self) -> None:
        try:
            await super().rollback()
        finally:
            self._release()

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:  # nested: the outer transaction ends it
            return exception is None
        try:
            if exception is not None:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        finally:
            self._release()
            await self._give_back()
            self.engine.current_transaction.reset(self.context)
        return exception is None
