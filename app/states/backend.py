"""The Terraform HTTP backend protocol as services: read, write (new version), lock, unlock.

Every refusal is a 4xx (Terraform retries 5xx and would repeat a write) and leaves the stored
state unchanged. Writes decode only the state header; hashing, compression and encryption of
large bodies run in threads, and the row lock is held only for the final checks and inserts.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from app.accounts.authz import Access, Principal
from app.db import transaction
from app.events import audit
from app.lib import crypto
from app.lib.clock import utcnow
from app.lib.errors import BadRequest, Conflict, not_found
from app.states import content
from app.states.header import HeaderError, StateHeader, decode_header
from app.states.lockview import StateLocked
from app.states.lookup import create_state, find_state, load_state, load_version_blob, resolve
from app.states.sealing import context, decrypt_version
from app.states.tables import State, StateVersion


def actor_fields(principal: Principal) -> dict[str, Any]:
    return {
        "created_by_type": principal.kind,
        "created_by_id": principal.actor_id,
        "created_by_label": principal.label[:320],
    }


def execution_id(principal: Principal) -> uuid.UUID | None:
    """A pipeline run's token carries the execution it belongs to; other credentials have none."""
    value = principal.extra.get("execution_id") if principal.kind == "run" else None
    return value if isinstance(value, uuid.UUID) else None


INLINE_LIMIT = crypto.THREAD_THRESHOLD  # below this, hash and decode inline (as crypto does)

# A request body, or how to read it: services that take one check the caller's access first and
# only then read it, so a refused caller's body is never read into memory.
Body = bytes | bytearray | Callable[[], Awaitable[bytes | bytearray]]


async def read(body: Body) -> bytes | bytearray:
    return await body() if callable(body) else body


@dataclass(frozen=True, slots=True)
class Prepared:
    """A checked state body: its header and digests (computed once, off the event loop if large)."""

    body: bytes | bytearray
    header: StateHeader
    sha256: str
    md5: str


@dataclass(frozen=True, slots=True)
class WriteResult:
    created: bool
    serial: int
    version_id: uuid.UUID | None


def _prepare(body: bytes | bytearray, content_md5: str | None) -> Prepared:
    md5 = hashlib.md5(body, usedforsecurity=False).digest()
    if content_md5 is not None:
        try:
            expected = base64.b64decode(content_md5.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("Content-MD5 is not base64", code="bad-content-md5") from None
        if expected != md5:
            raise BadRequest("Content-MD5 does not match the body", code="content-md5-mismatch")
    try:
        header = decode_header(body)
    except HeaderError as exc:
        raise BadRequest(str(exc), code="invalid-state") from None
    return Prepared(body, header, hashlib.sha256(body).hexdigest(), md5.hex())


async def prepare(body: bytes | bytearray, content_md5: str | None) -> Prepared:
    if len(body) <= INLINE_LIMIT:
        return _prepare(body, content_md5)
    return await asyncio.to_thread(_prepare, body, content_md5)


async def _encrypt(access: Access, state_id: uuid.UUID, version_id: uuid.UUID, body: bytes | bytearray):
    return await crypto.encrypt(body, context=context(access.organization_id, state_id, version_id))


# --- reads -------------------------------------------------------------------------------------


async def read_current(principal: Principal, slug: str, name: str) -> tuple[bytes, str] | None:
    """The current state bytes and their hex MD5, or None when the state has no version yet."""
    access = await resolve(principal, slug, name, "state:read")
    row = await find_state(access, name)
    if row is None or row["current_version"] is None:
        return None
    version = await load_version_blob(row, StateVersion.id == row["current_version"])
    if version is None:
        return None
    return await decrypt_version(version), str(version["md5"])


# --- writes ------------------------------------------------------------------------------------

Plan = Literal["unchanged", "new", "rewrite"]


async def _current_sha(row: dict[str, Any]) -> str | None:
    found = (
        await StateVersion.select(StateVersion.sha256)
        .where(StateVersion.id == row["current_version"])
        .first()
    )
    return None if found is None else str(found["sha256"])


def check_write(
    row: dict[str, Any],
    header: StateHeader,
    sha256: str,
    current_sha: str | None,
    lock_id: str | None,
    force: bool,
) -> Plan:
    """Decide a write against the current row: raise for refusals, else say what to store.
    ``current_sha`` is only consulted when the serial equals the stored one."""
    if row["lock_id"]:
        if lock_id != row["lock_id"]:
            detail = (
                "the state is locked; send the holder's lock id as ?ID="
                if not lock_id
                else f"lock {lock_id} does not hold this state"
            )
            raise StateLocked(row, detail)
    elif lock_id:
        raise Conflict(
            f"lock {lock_id} is not held: the state is unlocked (was it force-unlocked?)",
            code="lock-not-held",
        )
    if row["current_version"] is None:
        return "new"
    if header.serial == row["serial"] and sha256 == current_sha:
        return "unchanged"
    if force:
        return "new" if header.serial > row["serial"] else "rewrite"
    if header.lineage != row["lineage"]:
        raise Conflict(
            f"lineage {header.lineage} differs from the stored state's lineage {row['lineage']}",
            code="lineage-mismatch",
        )
    if header.serial < row["serial"]:
        raise Conflict(
            f"serial {header.serial} is older than the stored serial {row['serial']}", code="serial-behind"
        )
    if header.serial == row["serial"]:
        raise Conflict(
            f"serial {header.serial} is already stored with different content; increment the serial",
            code="serial-conflict",
        )
    return "new"


async def plan_write(row: dict[str, Any], prepared: Prepared, lock_id: str | None, force: bool) -> Plan:
    """``check_write``, reading the current version's digest only when the serials are equal (the
    one case it decides): Terraform's usual write, serial + 1, costs no extra query."""
    same_serial = row["current_version"] is not None and prepared.header.serial == row["serial"]
    current_sha = await _current_sha(row) if same_serial else None
    return check_write(row, prepared.header, prepared.sha256, current_sha, lock_id, force)


async def write_state(
    principal: Principal,
    slug: str,
    name: str,
    body: Body,
    *,
    lock_id: str | None = None,
    content_md5: str | None = None,
    force: bool = False,
) -> WriteResult:
    """POST /tf/{org}/{state}: store a new version unless the checks refuse it. The caller's
    access is checked before ``body`` is read."""
    access = await resolve(principal, slug, name, "state:write")
    if force:
        access.require("state:admin")
    body = await read(body)
    row = await find_state(access, name)
    version_id = uuid.uuid4()
    sealed: crypto.Envelope | None = None
    if row is None or len(body) <= INLINE_LIMIT:
        prepared = await prepare(body, content_md5)
    else:
        # Large body: check and hash in one thread while another compresses and encrypts.
        prepared, sealed = await asyncio.gather(
            prepare(body, content_md5), _encrypt(access, row["id"], version_id, body)
        )
    if row is None:
        await create_state(access, name)
        row = await load_state(access, name)
    # Refuse before encrypting (and learn whether a forced write must be rewritten); the
    # decision that counts is taken again under the row lock in _store.
    plan = await plan_write(row, prepared, lock_id, force)
    if plan == "unchanged":
        return WriteResult(False, prepared.header.serial, row["current_version"])
    if plan == "rewrite":
        body = content.rewrite(
            bytes(prepared.body), serial=int(row["serial"]) + 1, lineage=prepared.header.lineage
        )
        prepared, sealed = await prepare(body, None), None
    return await _store(access, row, prepared, version_id, sealed, lock_id=lock_id, force=force)


async def _store(
    access: Access,
    row: dict[str, Any],
    prepared: Prepared,
    version_id: uuid.UUID,
    sealed: crypto.Envelope | None,
    *,
    lock_id: str | None,
    force: bool,
    restored_from: int | None = None,
) -> WriteResult:
    """Encrypt if not done yet, then decide again under the row lock and insert the version.

    ``row`` is the state as read before; the blob is bound to its id, so a state deleted and
    created again meanwhile is a conflict rather than a version that would not decrypt.
    """
    if sealed is None:
        sealed = await _encrypt(access, row["id"], version_id, prepared.body)
    changed = Conflict("the state changed while this write was prepared; retry", code="state-changed")
    async with transaction():
        current = await load_state(access, row["name"], lock=True)
        if current["id"] != row["id"]:
            raise changed
        plan = await plan_write(current, prepared, lock_id, force)
        if plan == "unchanged":
            return WriteResult(False, prepared.header.serial, current["current_version"])
        if plan == "rewrite":  # another write landed after the forced body was rewritten
            raise changed
        await insert_version(
            access, current, prepared, version_id, sealed, restored_from=restored_from, forced=force
        )
    return WriteResult(True, prepared.header.serial, version_id)


async def insert_version(
    access: Access,
    row: dict[str, Any],
    prepared: Prepared,
    version_id: uuid.UUID,
    sealed: crypto.Envelope,
    *,
    restored_from: int | None = None,
    forced: bool = False,
) -> None:
    """Insert the version and move the current pointer (inside the caller's transaction)."""
    header = prepared.header
    now = utcnow()
    await StateVersion.insert(
        StateVersion(
            id=version_id,
            organization=access.organization_id,
            state=row["id"],
            serial=header.serial,
            lineage=header.lineage,
            terraform_version=header.terraform_version,
            state_format=header.version,
            sha256=prepared.sha256,
            md5=prepared.md5,
            size=len(prepared.body),
            resource_count=header.managed_resources,
            execution_id=execution_id(access.principal),
            restored_from=restored_from,
            enc_format=sealed.format,
            key_id=sealed.key_id,
            wrapped_key=sealed.wrapped_key,
            ciphertext=sealed.ciphertext,
            created_at=now,
            **actor_fields(access.principal),
        )
    )
    await State.update(
        {
            State.current_version: version_id,
            State.serial: header.serial,
            State.lineage: header.lineage,
            State.terraform_version: header.terraform_version,
            State.size: len(prepared.body),
            State.resource_count: header.managed_resources,
            State.updated_at: now,
        }
    ).where(State.id == row["id"])
    details: dict[str, Any] = {
        "name": row["name"],
        "serial": header.serial,
        "size": len(prepared.body),
        "sha256": prepared.sha256,
    }
    if restored_from is not None:
        details["restored_from"] = restored_from
    if forced:
        details["forced"] = True
    await audit.record(
        access.principal,
        "state.restore" if restored_from is not None else "state.write",
        organization_id=access.organization_id,
        object_type="state",
        object_id=row["id"],
        details=details,
    )


async def restore(access: Access, name: str, serial: int) -> WriteResult:
    """A new version with the content of version ``serial``: serial = current + 1, current lineage."""
    row = await load_state(access, name)
    if row["lock_id"]:
        raise StateLocked(row, "the state is locked; it cannot be restored until the lock is released")
    old = await load_version_blob(row, StateVersion.serial == serial)
    if old is None:
        raise not_found("state version")
    data = await decrypt_version(old)
    body = content.rewrite(data, serial=int(row["serial"]) + 1, lineage=str(row["lineage"]))
    prepared = await prepare(body, None)
    return await _store(
        access, row, prepared, uuid.uuid4(), None, lock_id=None, force=False, restored_from=serial
    )
