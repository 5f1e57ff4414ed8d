"""Apply Piccolo migrations, check that none is pending, and serialize start-up work.

On PostgreSQL a session advisory lock makes concurrent ``board3 migrate`` / start-ups take turns;
SQLite has one writer at a time anyway.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import AsyncIterator

from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.postgres import PostgresEngine

from app.db import get_engine
from app.db.engine import prepare_sqlite_file

log = logging.getLogger("board3.migrate")

APP_NAME = "board3"
_ADVISORY_LOCK_KEY = 0x62_6F_61_72_64_33  # "board3"


class SchemaBehind(RuntimeError):
    """The database lacks migrations this code needs."""


@contextlib.asynccontextmanager
async def exclusive() -> AsyncIterator[None]:
    """One process at a time (PostgreSQL advisory lock); a no-op on SQLite."""
    engine = get_engine()
    if not isinstance(engine, PostgresEngine):
        yield
        return
    import asyncpg

    conn = await asyncpg.connect(dsn=engine.config["dsn"])
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _ADVISORY_LOCK_KEY)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _ADVISORY_LOCK_KEY)
    finally:
        await conn.close()


async def migrate() -> None:
    """Bring the schema up to date. Idempotent; safe when several processes run it together."""
    engine = get_engine()
    if not isinstance(engine, PostgresEngine):
        prepare_sqlite_file(engine.path)  # type: ignore[attr-defined]
    async with exclusive():
        on_disk, pending = await _migrations()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            result = await run_forwards(app_name=APP_NAME)
        # Piccolo's own summary counts every migration as "already complete" before running the
        # pending ones; only its per-migration lines ("- <id> [forwards]... ok!") are kept.
        for line in out.getvalue().splitlines():
            if line.strip().startswith("- "):
                migration, _, outcome = line.strip()[2:].partition(" [forwards]... ")
                ok = outcome.startswith("ok")
                log.info("migrate: %s %s", "applied" if ok else "ran", migration if ok else line.strip())
        if not result.success:
            raise RuntimeError(f"migration failed: {result.message}")
        log.info(
            "migrate: %d applied, %d were already applied",
            len(pending),
            len(on_disk) - len(pending),
            extra={"applied": len(pending), "already_applied": len(on_disk) - len(pending)},
        )


async def _migrations() -> tuple[list[str], list[str]]:
    """Every migration id on disk, and those the database has not run."""
    manager = BaseMigrationManager()
    app_config = manager.get_app_config(app_name=APP_NAME)
    on_disk = set(
        manager.get_migration_ids(manager.get_migration_modules(app_config.resolved_migrations_folder_path))
    )
    if not await Migration.table_exists():
        return sorted(on_disk), sorted(on_disk)
    ran = set(await Migration.get_migrations_which_ran(app_name=APP_NAME))
    return sorted(on_disk), sorted(on_disk - ran)


async def pending_migrations() -> list[str]:
    return (await _migrations())[1]


async def ensure_migrated() -> None:
    pending = await pending_migrations()
    if pending:
        raise SchemaBehind(
            f"the database schema is behind ({len(pending)} migration(s) pending, first {pending[0]}); "
            "run `board3 migrate` first"
        )
