"""State locks: one conditional UPDATE decides every race, in the database.

``UPDATE states SET lock_id = :id ... WHERE <org and name> AND lock_id IS NULL`` takes the lock;
the release is ``... AND lock_id = :id``. Under PostgreSQL's row locks (and SQLite's single writer)
exactly one of many concurrent LOCKs matches; every other caller reads the holder's lock info.
The UPDATE addresses the state by name, so the usual LOCK and UNLOCK need no read before it.
"""

from __future__ import annotations

from typing import Any

from piccolo.columns.combination import Combinable
from piccolo.querystring import QueryString

from app.accounts.authz import Access, Principal, tenant_column
from app.db import transaction
from app.db.statements import update_and_insert
from app.events import audit
from app.events.bus import emit
from app.events.tables import AuditLog
from app.lib.clock import utcnow
from app.lib.errors import BadRequest, Conflict
from app.states.backend import Body, read
from app.states.header import HeaderError, LockInfo, decode_lock_info, encode_lock_info
from app.states.lockview import StateLocked, lock_read
from app.states.lookup import create_state, load_state, resolve
from app.states.schemas import LockRead
from app.states.tables import State

_RACE_RETRIES = 5

# LOCK and UNLOCK as written SQL: they are the backend's hottest writes, and building them with
# the query builder cost more than running them. The tenant column comes from tenant_column.
_STATE = f'"{State._meta.tablename}"'
_NAMED = f'"{tenant_column(State)._meta.db_column_name}" = {{}} AND "name" = {{}}'
_TAKE = (  # names from the table definition; every value is a parameter
    f"UPDATE {_STATE} SET lock_id = {{}}, lock_info = {{}}, locked_by = {{}}, locked_by_id = {{}}, "  # noqa: S608
    f"locked_at = {{}} WHERE {_NAMED} AND lock_id IS NULL RETURNING id"
)
_HOLDER = f"SELECT lock_id, lock_info, locked_by FROM {_STATE} WHERE {_NAMED}"  # noqa: S608
_RELEASE = (
    f"UPDATE {_STATE} SET lock_id = NULL, lock_info = NULL, locked_by = NULL, locked_by_id = NULL, "  # noqa: S608
    f"locked_at = NULL WHERE {_NAMED} AND lock_id = {{}} RETURNING id"
)


def _decode(body: bytes | bytearray) -> LockInfo:
    try:
        return decode_lock_info(body)
    except HeaderError as exc:
        raise BadRequest(str(exc), code="invalid-lock-info") from None


async def lock(principal: Principal, slug: str, name: str, body: Body) -> bytes:
    """LOCK: take the lock for the holder in ``body``; 423 with the holder's info if taken.
    The first LOCK of a name creates the state. Access is checked before ``body`` is read."""
    access = await resolve(principal, slug, name, "state:write")
    info = _decode(await read(body))
    raw = encode_lock_info(info)
    holder_label, holder_id, org = principal.label[:320], principal.actor_id, access.organization_id
    for _ in range(_RACE_RETRIES):
        take = QueryString(_TAKE, info.id, raw.decode(), holder_label, holder_id, utcnow(), org, name)
        if await _changed_and_audited(take, access, "state.lock", name, info):
            return raw
        holder = await _holder(access, name)
        if holder is None:
            await create_state(access, name)
        elif holder["lock_id"]:
            raise StateLocked(holder)
        # Created just now, or the holder released between our UPDATE and the read: try again.
    raise Conflict("the lock was taken and released too often to acquire it; retry", code="lock-contended")


async def unlock(principal: Principal, slug: str, name: str, body: Body) -> None:
    """UNLOCK: release the lock of the holder in ``body``. An empty body is ``terraform
    force-unlock`` (it never sends the id) and needs ``state:admin``. Access is checked before
    ``body`` is read."""
    access = await resolve(principal, slug, name, "state:write")
    body = await read(body)
    if not body.strip():
        access.require("state:admin")
        await force_unlock_access(access, name)
        return
    info = _decode(body)
    release = QueryString(_RELEASE, access.organization_id, name, info.id)
    if await _changed_and_audited(release, access, "state.unlock", name, info):
        return
    current = await load_state(access, name)
    if current["lock_id"]:
        raise StateLocked(current, f"lock {info.id} does not hold this state")
    # Not locked at all: releasing is idempotent (a retried UNLOCK must not fail).


async def _holder(access: Access, name: str) -> dict[str, Any] | None:
    """Who holds the lock of the state ``name`` (None when there is no such state): what a LOCK
    that lost answers with, read as written SQL since most LOCKs of a race lose."""
    rows = await State.raw(_HOLDER, access.organization_id, name)
    return dict(rows[0]) if rows else None


def _release_query(where: Combinable) -> Any:
    """Clear the lock of the state matching ``where`` (force-unlock)."""
    return State.update(
        {
            State.lock_id: None,
            State.lock_info: None,
            State.locked_by: None,
            State.locked_by_id: None,
            State.locked_at: None,
        },
        use_auto_update=False,
    ).where(where)


async def force_unlock(principal: Principal, slug: str, name: str) -> LockRead | None:
    """Remove whoever's lock (``state:admin``); returns the lock that was removed."""
    access = await resolve(principal, slug, name, "state:admin")
    return await force_unlock_access(access, name)


async def force_unlock_access(access: Access, name: str) -> LockRead | None:
    async with transaction():
        row = await load_state(access, name, lock=True)
        if not row["lock_id"]:
            return None
        previous = lock_read(row)
        await _release_query(State.id == row["id"])
        await audit.record(
            access.principal,
            "state.force_unlock",
            organization_id=access.organization_id,
            object_type="state",
            object_id=row["id"],
            details={
                "name": row["name"],
                "lock_id": row["lock_id"],
                "holder": row["locked_by"],
                "operation": previous.operation if previous else "",
                "who": previous.who if previous else "",
            },
        )
        await emit(
            access.principal,
            "state.force_unlocked",
            organization_id=access.organization_id,
            object_type="state",
            object_id=row["id"],
            data={"state": row["name"], "lock_id": row["lock_id"], "holder": row["locked_by"]},
        )
    return previous


async def _changed_and_audited(
    update: QueryString, access: Access, action: str, name: str, info: LockInfo
) -> bool:
    """Run a LOCK's or UNLOCK's conditional UPDATE and, if it matched, its audit row, atomically
    (one statement on PostgreSQL). Whether it matched.

    The commit is relaxed (acknowledged before it is on disk) unless BOARD3_DURABLE_LOCKS is set:
    only a crash of PostgreSQL itself within a fraction of a second can lose it, and a lost LOCK
    or UNLOCK fails safe. The holder's writes are refused (409, lock not held) rather than
    accepted without a lock, and a lost release leaves the lock for a force-unlock. State writes
    always wait for the disk."""
    row = audit.entry(
        access.principal,
        action,
        organization_id=access.organization_id,
        object_type="state",
        details={"name": name, "lock_id": info.id, "operation": info.operation},
    )
    return bool(await update_and_insert(update, AuditLog, row, AuditLog.object_id, State.id, relaxed=True))
