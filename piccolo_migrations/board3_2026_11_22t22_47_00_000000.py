"""Designs: unique indexes Piccolo cannot express, and immutable design versions."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db import ddl

ID = "2026-11-22T22:47:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "designs unique indexes, immutable design versions"


def _immutable(table: str) -> list[str]:
    """Refuse UPDATE on ``table`` (DELETE stays possible so organization deletion can cascade)."""
    if ddl.engine_type() == "sqlite":
        return [
            f'CREATE TRIGGER IF NOT EXISTS "{table}_no_update" BEFORE UPDATE ON "{table}" '
            f"BEGIN SELECT RAISE(ABORT, '{table} is immutable'); END",
        ]
    return [
        "CREATE OR REPLACE FUNCTION board3_immutable() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION '% is immutable', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql",
        f'DROP TRIGGER IF EXISTS "{table}_immutable" ON "{table}"',
        f'CREATE TRIGGER "{table}_immutable" BEFORE UPDATE ON "{table}" '
        f"FOR EACH ROW EXECUTE FUNCTION board3_immutable()",
    ]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="board3", description=DESCRIPTION)

    async def run():
        await ddl.run(
            [
                # A live design's name is unique in its organization (case-insensitively); a deleted
                # design's name can be reused.
                'CREATE UNIQUE INDEX IF NOT EXISTS "designs_org_name_live_uniq" '
                'ON "designs" ("organization", lower("name")) WHERE "deleted_at" IS NULL',
                'CREATE INDEX IF NOT EXISTS "designs_org_created" ON "designs" ("organization", "created_at")',
                'CREATE UNIQUE INDEX IF NOT EXISTS "design_versions_design_number_uniq" '
                'ON "design_versions" ("design", "number")',
                'CREATE UNIQUE INDEX IF NOT EXISTS "resources_design_node_uniq" ON "resources" ("design", "node_id")',
                'CREATE INDEX IF NOT EXISTS "resources_org_type" ON "resources" ("organization", "type")',
                'CREATE UNIQUE INDEX IF NOT EXISTS "design_shares_design_user_uniq" '
                'ON "design_shares" ("design", "user")',
                'CREATE INDEX IF NOT EXISTS "comments_design_created" ON "comments" ("design", "created_at")',
                'CREATE UNIQUE INDEX IF NOT EXISTS "templates_public_slug_uniq" '
                'ON "templates" ("slug") WHERE "organization" IS NULL',
                'CREATE UNIQUE INDEX IF NOT EXISTS "templates_org_slug_uniq" '
                'ON "templates" ("organization", "slug") WHERE "organization" IS NOT NULL',
                *_immutable("design_versions"),
            ]
        )

    manager.add_raw(run)
    return manager
