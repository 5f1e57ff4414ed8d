"""Raw DDL for what Piccolo's migration operations cannot express on both engines.

Composite and partial unique indexes and triggers are written by hand here: SQLite has no
``ALTER TABLE ... ADD CONSTRAINT``, but both engines accept ``CREATE UNIQUE INDEX ... [WHERE ...]``.
"""

from __future__ import annotations

from piccolo.engine.finder import engine_finder


def engine_type() -> str:
    engine = engine_finder()
    assert engine is not None, "no Piccolo engine configured"
    return str(engine.engine_type)


async def run(statements: list[str]) -> None:
    """Execute DDL statements in order on the configured engine."""
    engine = engine_finder()
    assert engine is not None, "no Piccolo engine configured"
    for sql in statements:
        await engine.run_ddl(sql, in_pool=False)


def append_only(table: str) -> list[str]:
    """Triggers that refuse UPDATE and DELETE on ``table``."""
    if engine_type() == "sqlite":
        return [
            f'CREATE TRIGGER IF NOT EXISTS "{table}_no_update" BEFORE UPDATE ON "{table}" '
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
            f'CREATE TRIGGER IF NOT EXISTS "{table}_no_delete" BEFORE DELETE ON "{table}" '
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        ]
    return [
        "CREATE OR REPLACE FUNCTION board3_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql",
        f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"',
        f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
        f"FOR EACH ROW EXECUTE FUNCTION board3_append_only()",
    ]
