"""Pipelines: unique names and numbers, one active execution per state; domain events append-only."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db import ddl

ID = "2026-12-03T10:21:12:000000"
VERSION = "1.38.0"
DESCRIPTION = "pipelines unique indexes, one active execution per state, append-only domain events"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="board3", description=DESCRIPTION)

    async def run():
        await ddl.run(
            [
                'CREATE UNIQUE INDEX IF NOT EXISTS "pipelines_design_env_uniq" '
                'ON "pipelines" ("design", "environment")',
                'CREATE UNIQUE INDEX IF NOT EXISTS "pipelines_org_state_uniq" '
                'ON "pipelines" ("organization", "state_name")',
                'CREATE UNIQUE INDEX IF NOT EXISTS "pipeline_variables_uniq" '
                'ON "pipeline_variables" ("pipeline", "category", "key")',
                'CREATE UNIQUE INDEX IF NOT EXISTS "pipeline_executions_number_uniq" '
                'ON "pipeline_executions" ("pipeline", "number")',
                # The state's slot: at most one execution holds a state at a time, whatever the code
                # does (two workers, two API processes, a sweeper promoting the next one).
                'CREATE UNIQUE INDEX IF NOT EXISTS "pipeline_executions_one_active" '
                'ON "pipeline_executions" ("state_id") WHERE "active"',
                'CREATE INDEX IF NOT EXISTS "pipeline_executions_queue" '
                'ON "pipeline_executions" ("state_id", "status", "number")',
                'CREATE UNIQUE INDEX IF NOT EXISTS "pipeline_logs_line_uniq" '
                'ON "pipeline_logs" ("execution", "first_line")',
                'CREATE INDEX IF NOT EXISTS "domain_events_org_created" '
                'ON "domain_events" ("organization_id", "created_at")',
                *ddl.append_only("domain_events"),
            ]
        )

    manager.add_raw(run)
    return manager
