"""Database access: the Piccolo app, the engine, write transactions and migrations.

``PICCOLO_CONF`` points Piccolo at ``app.db.piccolo_conf``, which builds the engine from settings;
importing this package first makes every Piccolo table resolve to that engine.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

os.environ.setdefault("PICCOLO_CONF", "app.db.piccolo_conf")

from piccolo.engine.base import Engine

from app.db import engine as _engine


def get_engine() -> Engine:
    """The process-wide engine (built once from settings by ``app.db.piccolo_conf``)."""
    from app.db.piccolo_conf import DB

    return DB


AfterCommit = Callable[[], Awaitable[None]]

# The callbacks waiting for the outermost transaction of this task to commit.
_after_commit: ContextVar[list[AfterCommit] | None] = ContextVar("board3_after_commit", default=None)


@asynccontextmanager
async def transaction() -> AsyncIterator[Any]:
    """Run the block in one write transaction (nested calls join the outer one).

    Callbacks registered with ``after_commit`` inside the block run once the outermost block has
    committed; a rollback drops them."""
    outermost = _after_commit.get() is None
    token = _after_commit.set([]) if outermost else None
    try:
        async with _engine.transaction(get_engine()) as tx:
            yield tx
        callbacks = _after_commit.get() if outermost else None
    finally:
        if token is not None:
            _after_commit.reset(token)
    for callback in callbacks or ():
        await callback()


async def after_commit(callback: AfterCommit) -> None:
    """Run ``callback`` when the current transaction commits, or now outside a transaction.

    For work that must not be seen before the data it describes is: telling other processes
    that what they remember is stale, for example."""
    pending = _after_commit.get()
    if pending is None:
        await callback()
    else:
        pending.append(callback)


@asynccontextmanager
async def savepoint() -> AsyncIterator[None]:
    """Inside a transaction, make the block undoable on its own: if it raises, its writes are rolled
    back (``ROLLBACK TO SAVEPOINT``) and the transaction goes on. On PostgreSQL a failed statement
    otherwise aborts the whole transaction. Outside a transaction it just runs the block."""
    tx = get_engine().current_transaction.get()
    if tx is None:
        yield
        return
    point = await tx.savepoint()
    try:
        yield
    except Exception:  # (a cancellation ends the whole transaction anyway)
        await point.rollback_to()
        raise
    await point.release()


is_unique_violation = _engine.is_unique_violation


@contextmanager
def on_unique_violation(error: Exception) -> Iterator[None]:
    """Raise ``error`` (a 409, usually) instead of a unique-index violation from the block: the
    database decided a race that a check before the write could not (a name taken meanwhile)."""
    try:
        yield
    except Exception as exc:
        if is_unique_violation(exc):
            raise error from None
        raise


def for_update(query: Any) -> Any:
    """Lock the selected rows until the transaction ends (PostgreSQL ``FOR UPDATE``).

    SQLite has no row locks; there ``transaction()`` already holds the database write lock, which
    serializes writers just as well.
    """
    if get_engine().engine_type == "sqlite":
        return query
    return query.lock_rows()


def skip_locked(query: Any) -> Any:
    """Claim the selected rows without waiting for rows others hold (PostgreSQL ``FOR UPDATE SKIP
    LOCKED``): two claimers take different rows instead of queueing on, or deadlocking over, the
    same ones. On SQLite one writer at a time already keeps claims apart."""
    if get_engine().engine_type == "sqlite":
        return query
    return query.lock_rows(skip_locked=True)


def run_with_database(coro_factory: Callable[[], Awaitable[Any]]) -> Any:
    """Run an async command-line task with the engine started before and stopped after it.

    For ``board3`` sub-commands: they run outside the server's lifespan, so they start the engine
    themselves."""
    import asyncio

    from app.config import get_settings

    settings = get_settings()

    async def main() -> Any:
        engine = get_engine()
        await _engine.start(engine, settings)
        try:
            return await coro_factory()
        finally:
            await _engine.stop(engine)

    return asyncio.run(main())
