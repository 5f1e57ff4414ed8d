"""Notifications and webhooks: one notification per user and event, one watch per pipeline and
user, one pending invitation per organization and email, and the dispatcher's due-deliveries index."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db import ddl

ID = "2026-12-03T11:19:15:000000"
VERSION = "1.38.0"
DESCRIPTION = "notification, watch and invitation unique indexes; due webhook deliveries index"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="board3", description=DESCRIPTION)

    async def run():
        await ddl.run(
            [
                'CREATE UNIQUE INDEX IF NOT EXISTS "notifications_user_event_uniq" '
                'ON "notifications" ("user", "event_id")',
                'CREATE INDEX IF NOT EXISTS "notifications_inbox" '
                'ON "notifications" ("user", "unread", "created_at")',
                'CREATE UNIQUE INDEX IF NOT EXISTS "pipeline_watches_uniq" '
                'ON "pipeline_watches" ("pipeline", "user")',
                # Pending: neither accepted nor revoked (an expired one is revoked before a new one).
                'CREATE UNIQUE INDEX IF NOT EXISTS "invitations_pending_uniq" '
                'ON "invitations" ("organization", "email") '
                'WHERE "accepted_at" IS NULL AND "revoked_at" IS NULL',
                'CREATE INDEX IF NOT EXISTS "webhook_deliveries_due" '
                'ON "webhook_deliveries" ("status", "next_attempt_at")',
                'CREATE INDEX IF NOT EXISTS "webhook_deliveries_list" '
                'ON "webhook_deliveries" ("webhook", "created_at")',
                'CREATE UNIQUE INDEX IF NOT EXISTS "webhook_attempts_number_uniq" '
                'ON "webhook_attempts" ("delivery", "number")',
            ]
        )

    manager.add_raw(run)
    return manager
