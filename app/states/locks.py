"""State locks: one conditional UPDATE decides every race, in the database.

``UPDATE states SET lock_id = :id ... WHERE <org and name> AND lock_id IS NULL`` takes the lock;
the release is ``... AND lock_id = :id``. Under PostgreSQL's row locks (and SQLite's single writer)
exactly one of many concurrent LOCKs matches; every other caller reads the holder's lock info.
The UPDATE addresses the state by name, so the usual LOCK and UNLOCK need no read before it.
"""

from __future__ import annotations

import uuid

from piccolo.columns.combination import Combinable

from app.accounts.authz import Access, Principal
from app.activity import service as audit
from app.db import transaction
from app.lib.clock import utcnow
from app.lib.errors import BadRequest, Conflict
from app.states.backend import Body, read
from app.states.common import (
    StateLocked,
    create_state,
    find_state,
    load_state,
    lock_read,
    named,
    resolve,
)
from app.states.header import HeaderError, LockInfo, decode_lock_info, encode_lock_info
from app.states.schemas import LockRead
from app.states.tables import State

_RACE_RETRIES = 5


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
    for _ in range(_RACE_RETRIES):
        async with transaction():
            taken = (
                await State.update(
                    {
                        State.lock_id: info.id,
                        State.lock_info: raw.decode(),
                        State.locked_by: principal.label[:320],
                        State.locked_by_id: principal.actor_id,
                        State.locked_at: utcnow(),
                    },
                    use_auto_update=False,
                )
                .where(named(access, name) & State.lock_id.is_null())
                .returning(State.id)
            )
            if taken:
                await _audit(access, "state.lock", taken[0]["id"], name, info)
                return raw
        holder = await find_state(access, name)
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
    async with transaction():
        released = await _release(named(access, name) & (State.lock_id == info.id))
        if released is not None:
            await _audit(access, "state.unlock", released, name, info)
            return
    current = await load_state(access, name)
    if current["lock_id"]:
        raise StateLocked(current, f"lock {info.id} does not hold this state")
    # Not locked at all: releasing is idempotent (a retried UNLOCK must not fail).


async def _release(where: Combinable) -> uuid.UUID | None:
    """Clear the lock of the state matching ``where`` (and a lock condition); its id, if any."""
    released = (
        await State.update(
            {
                State.lock_id: None,
                State.lock_info: None,
                State.locked_by: None,
                State.locked_by_id: None,
                State.locked_at: None,
            },
            use_auto_update=False,
        )
        .where(where)
        .returning(State.id)
    )
    return released[0]["id"] if released else None


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
        await _release(State.id == row["id"])
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
    return previous


async def _audit(access: Access, action: str, state_id: uuid.UUID, name: str, info: LockInfo) -> None:
    await audit.record(
        access.principal,
        action,
        organization_id=access.organization_id,
        object_type="state",
        object_id=state_id,
        details={"name": name, "lock_id": info.id, "operation": info.operation},
    )
