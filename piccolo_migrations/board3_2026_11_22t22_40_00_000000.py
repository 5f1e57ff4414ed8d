"""Composite unique indexes for accounts; the audit log becomes append-only."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db import ddl

ID = "2026-11-22T22:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "accounts unique indexes, append-only audit log"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="board3", description=DESCRIPTION)

    async def run():
        await ddl.run(
            [
                'CREATE UNIQUE INDEX IF NOT EXISTS "roles_org_name_uniq" ON "roles" ("organization", "name")',
                'CREATE UNIQUE INDEX IF NOT EXISTS "members_org_user_uniq" '
                'ON "organization_members" ("organization", "user")',
                'CREATE INDEX IF NOT EXISTS "audit_logs_org_created" ON "audit_logs" '
                '("organization_id", "created_at")',
                *ddl.append_only("audit_logs"),
            ]
        )

    manager.add_raw(run)
    return manager
