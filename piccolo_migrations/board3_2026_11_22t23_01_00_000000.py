"""States: unique names per organization, unique serials per state, ciphertext stored uncompressed."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db import ddl

ID = "2026-11-22T23:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "states unique indexes, ciphertext storage"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="board3", description=DESCRIPTION)

    async def run():
        statements = [
            'CREATE UNIQUE INDEX IF NOT EXISTS "states_org_name_uniq" ON "states" ("organization", "name")',
            'CREATE UNIQUE INDEX IF NOT EXISTS "state_versions_state_serial_uniq" '
            'ON "state_versions" ("state", "serial")',
        ]
        if ddl.engine_type() != "sqlite":
            # Ciphertext does not compress: skip PostgreSQL's TOAST compression attempt on it.
            statements += [
                'ALTER TABLE "state_versions" ALTER COLUMN "ciphertext" SET STORAGE EXTERNAL',
                'ALTER TABLE "encryption_canaries" ALTER COLUMN "ciphertext" SET STORAGE EXTERNAL',
            ]
        await ddl.run(statements)

    manager.add_raw(run)
    return manager
