"""Database access: the Piccolo app, the engine, write transactions and migrations.

``PICCOLO_CONF`` points Piccolo at ``app.db.piccolo_conf``, which builds the engine from settings;
importing this package first makes every Piccolo table resolve to that engine.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

os.environ.setdefault("PICCOLO_CONF", "app.db.piccolo_conf")

from piccolo.engine.base import Engine

from app.db import engine as _engine


def get_engine() -> Engine:
    """The process-wide engine (built once from settings by ``app.db.piccolo_conf``)."""
    from app.db.piccolo_conf import DB

    return DB


@asynccontextmanager
async def transaction() -> AsyncIterator[Any]:
    """Run the block in one write transaction (nested calls join the outer one)."""
    async with _engine.transaction(get_engine()) as tx:
        yield tx


is_unique_violation = _engine.is_unique_violation


def for_update(query: Any) -> Any:
    """Lock the selected rows until the transaction ends (PostgreSQL ``FOR UPDATE``).

    SQLite has no row locks; there ``transaction()`` already holds the database write lock, which
    serializes writers just as well.
    """
    if get_engine().engine_type == "sqlite":
        return query
    return query.lock_rows()
