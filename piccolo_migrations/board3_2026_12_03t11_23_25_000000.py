"""Drift checks: a pipeline's history newest first, and its latest result."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db import ddl

ID = "2026-12-03T11:23:25:000000"
VERSION = "1.38.0"
DESCRIPTION = "drift checks history and latest-result indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="board3", description=DESCRIPTION)

    async def run():
        await ddl.run(
            [
                'CREATE INDEX IF NOT EXISTS "drift_checks_history" '
                'ON "drift_checks" ("pipeline", "created_at", "id")',
                'CREATE INDEX IF NOT EXISTS "drift_checks_results" '
                'ON "drift_checks" ("pipeline", "status", "finished_at")',
            ]
        )

    manager.add_raw(run)
    return manager
