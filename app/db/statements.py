"""A change and the row that records it, in as few round trips as the engine allows.

Hot writes such as a state's LOCK and UNLOCK are one conditional UPDATE plus an audit row. As a
transaction that is four round trips (BEGIN, UPDATE, INSERT, COMMIT); on PostgreSQL it can be one
statement, a data-modifying CTE, which is atomic on its own: one round trip, one commit. SQLite
has no data-modifying CTEs, so there it stays a (queued) transaction of two statements.
"""

from __future__ import annotations

import functools
from typing import Any

from piccolo.columns import JSON, Column
from piccolo.querystring import QueryString
from piccolo.table import Table
from piccolo.utils.sql_values import convert_to_sql_value

from app.db import get_engine, transaction
from app.db.engine import run_relaxed


@functools.lru_cache(maxsize=32)
def _recorded_template(table: type[Table], link: Column, source: Column) -> tuple[str, tuple[Column, ...]]:
    """``WITH changed AS ({update}), recorded AS (INSERT ...) SELECT * FROM changed`` for ``table``
    (names and types from its definition; every value a parameter), and its value columns."""
    columns = tuple(c for c in table._meta.columns if c._meta.name != link._meta.name)
    names = ", ".join(f'"{c._meta.db_column_name}"' for c in [*columns, link])
    values = ", ".join(f"CAST({{}} AS {c.column_type})" for c in columns)
    linked = f'CAST(changed."{source._meta.db_column_name}" AS {link.column_type})'
    template = (
        f'WITH changed AS ({{}}), recorded AS (INSERT INTO "{table._meta.tablename}" ({names}) '  # noqa: S608
        f"SELECT {values}, {linked} FROM changed) SELECT * FROM changed"
    )
    return template, columns


def _value(row: Table, column: Column) -> Any:
    value = getattr(row, column._meta.name)
    return convert_to_sql_value(value, column) if isinstance(column, JSON) else value


async def update_and_insert(
    update: QueryString, row: Table, link: Column, source: Column, *, relaxed: bool = False
) -> list[dict[str, Any]]:
    """Run ``update`` (an ``UPDATE ... RETURNING`` that returns ``source``) and, for each row it
    changed, insert ``row`` with ``link`` set to that row's ``source`` (as ``link``'s type),
    atomically. Returns what the UPDATE returned; nothing is inserted when it changed nothing.

    ``relaxed``: the commit may be acknowledged before it is on disk (``engine.run_relaxed``),
    where the deployment allows it."""
    engine = get_engine()
    if engine.engine_type == "sqlite":
        async with transaction():
            changed: list[dict[str, Any]] = await engine.run_querystring(update)
            for found in changed:
                setattr(row, link._meta.name, str(found[source._meta.db_column_name]))
                await type(row).insert(row)
        return changed
    template, columns = _recorded_template(type(row), link, source)
    statement = QueryString(template, update, *(_value(row, c) for c in columns))
    if relaxed and (done := await run_relaxed(engine, statement)) is not None:
        return done
    return [dict(found) for found in await engine.run_querystring(statement)]
