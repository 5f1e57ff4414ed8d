"""Commenting becomes the permission design:comment: roles that could comment keep doing so."""

import json

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.querystring import QueryString

ID = "2026-12-03T11:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "design:comment for every role with design:read"


async def add_comment_permission() -> None:
    """Every role with design:read could comment until now: give it design:comment. API keys are
    left as they are, so a key scoped to design:read alone no longer comments."""
    engine = engine_finder()
    assert engine is not None, "no Piccolo engine configured"
    rows = await engine.run_querystring(QueryString('SELECT "id", "permissions" FROM "roles"'), in_pool=False)
    for row in rows:
        permissions = row["permissions"]
        if isinstance(permissions, str):
            permissions = json.loads(permissions)
        if "design:read" in permissions and "design:comment" not in permissions:
            updated = json.dumps(sorted([*permissions, "design:comment"]))
            await engine.run_querystring(
                QueryString('UPDATE "roles" SET "permissions" = {} WHERE "id" = {}', updated, row["id"]),
                in_pool=False,
            )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="board3", description=DESCRIPTION)
    manager.add_raw(add_comment_permission)
    return manager
