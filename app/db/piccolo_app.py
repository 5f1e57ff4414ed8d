"""The one Piccolo app: every domain's tables, migrations in the top-level ``piccolo_migrations/``."""

import os

from piccolo.conf.apps import AppConfig, table_finder

MIGRATIONS_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "piccolo_migrations"
)

# Each domain's tables module is listed here; adding one means adding a migration too.
TABLE_MODULES = [
    "app.accounts.tables",
    "app.designs.tables",
    "app.drift.tables",
    "app.events.tables",
    "app.notifications.tables",
    "app.pipelines.tables",
    "app.states.tables",
    "app.worker.tables",
]

# Every table holding envelope-encrypted rows (``module:SealedRows``): key rotation re-wraps them all
# and start-up checks their key ids are configured (``app.lib.sealed``).
SEALED = [
    "app.states.tables:SEALED_VERSIONS",
    "app.pipelines.tables:SEALED_VARIABLES",
    "app.pipelines.tables:SEALED_PLANS",
    "app.notifications.tables:SEALED_WEBHOOK_SECRETS",
]

APP_CONFIG = AppConfig(
    app_name="board3",
    migrations_folder_path=MIGRATIONS_DIR,
    table_classes=table_finder(modules=TABLE_MODULES, exclude_imported=True),
    migration_dependencies=[],
    commands=[],
)
