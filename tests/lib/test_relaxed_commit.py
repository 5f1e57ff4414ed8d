"""LOCK and UNLOCK commit asynchronously on PostgreSQL unless BOARD3_DURABLE_LOCKS is set: they
run on connections with synchronous_commit off, never inside a caller's transaction, and every
other write keeps waiting for the disk."""

from __future__ import annotations

import os

import pytest
from piccolo.querystring import QueryString

from app.db import get_engine, transaction
from app.db.engine import run_relaxed

pytestmark = pytest.mark.skipif(
    os.environ.get("BOARD3_TEST_BACKEND", "postgres") != "postgres", reason="PostgreSQL only"
)

SHOW = QueryString("SHOW synchronous_commit")


async def test_relaxed_statements_commit_asynchronously_and_others_do_not(client):
    engine = get_engine()
    assert await run_relaxed(engine, SHOW) == [{"synchronous_commit": "off"}]
    assert [dict(r) for r in await engine.run_querystring(SHOW)] == [{"synchronous_commit": "on"}]
    async with transaction():  # inside a transaction the statement must use its connection
        assert await run_relaxed(engine, SHOW) is None


async def test_durable_locks_open_no_relaxed_connections(monkeypatch):
    import dataclasses

    from app.config import get_settings
    from app.db import engine as db_engine

    monkeypatch.setattr(db_engine, "_relaxed_pool", None)
    settings = get_settings()
    durable = dataclasses.replace(
        settings, database=dataclasses.replace(settings.database, durable_locks=True)
    )
    engine = type(get_engine())(config=get_engine().config)
    await db_engine.start(engine, durable)
    try:
        assert db_engine._relaxed_pool is None
        assert await run_relaxed(engine, SHOW) is None
    finally:
        await db_engine.stop(engine)


async def test_a_recorded_update_inserts_nothing_when_it_changes_nothing_and_takes_plain_values(client):
    """The row goes in only for rows the UPDATE changed (a lock taken is audited in
    tests/states/test_lock_audit.py); an UPDATE whose values are statements is refused, as its SQL
    is compiled once per text."""
    import uuid

    from app.db.statements import update_and_insert
    from app.events.tables import AuditLog
    from app.lib.clock import utcnow
    from app.states.tables import State

    row = {
        "id": uuid.uuid4(),
        "organization_id": None,
        "actor_type": "system",
        "actor_id": None,
        "actor_label": "test",
        "action": "test.recorded",
        "object_type": "state",
        "details": {"n": 1},
        "ip": None,
        "user_agent": None,
        "request_id": None,
        "created_at": utcnow(),
    }
    touch = QueryString('UPDATE "states" SET name = name WHERE name = {} RETURNING id', "no-such-state")
    assert await update_and_insert(touch, AuditLog, row, AuditLog.object_id, State.id) == []
    assert not await AuditLog.exists().where(AuditLog.id == row["id"])

    inner = QueryString("SELECT 'x'")
    nested = QueryString("UPDATE states SET name = name WHERE name = ({}) RETURNING id", inner)
    with pytest.raises(TypeError, match="plain parameters"):
        await update_and_insert(nested, AuditLog, row, AuditLog.object_id, State.id)
