"""What the state services share: access resolution, loading a state by name, envelopes, reads."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from piccolo.columns.combination import Combinable

from app.accounts.authz import Access, Principal, access_for_org, scoped, tenant_column
from app.activity import service as audit
from app.db import for_update, transaction
from app.lib import crypto
from app.lib.clock import utcnow
from app.lib.errors import AppError, BadRequest, Locked, not_found
from app.states.header import valid_state_name
from app.states.schemas import Actor, LockRead, StateRead, StateVersionRead
from app.states.tables import State, StateVersion

STATE_COLUMNS = [c for c in State.all_columns()]
# Version metadata without the blob columns (lists never load ciphertext).
VERSION_META = [c for c in StateVersion.all_columns() if c._meta.name not in ("wrapped_key", "ciphertext")]


async def resolve(principal: Principal, slug: str, name: str, permission: str) -> Access:
    """Access to the organization with ``permission``; a malformed state name is a 400."""
    access = await access_for_org(principal, slug=slug, permission=permission)
    check_name(name)
    return access


def check_name(name: str) -> None:
    if not valid_state_name(name):
        raise BadRequest("state names are 1-128 letters, digits, '-', '_' or '.'", code="invalid-state-name")


def named(access: Access, name: str) -> Combinable:
    """``WHERE`` for the state ``name`` of the caller's organization, for UPDATEs (``scoped`` makes
    SELECTs): a conditional UPDATE can then find and change the row in one round trip."""
    return (tenant_column(State) == access.organization_id) & (State.name == name)


async def find_state(access: Access, name: str, *, lock: bool = False) -> dict[str, Any] | None:
    query = scoped(State, access, *STATE_COLUMNS).where(State.name == name).first()
    if lock:
        query = for_update(query)
    row: dict[str, Any] | None = await query
    return row


async def load_state(access: Access, name: str, *, lock: bool = False) -> dict[str, Any]:
    row = await find_state(access, name, lock=lock)
    if row is None:
        raise not_found("state")
    return row


async def create_state(access: Access, name: str) -> None:
    """Create (and audit) the state ``name``: its first LOCK or POST does.

    Concurrent first writers race on the unique (organization, name) index; ``ON CONFLICT DO
    NOTHING`` lets exactly one insert win, and the others go on with the winner's row.
    """
    now = utcnow()
    async with transaction():
        inserted = (
            await State.insert(
                State(organization=access.organization_id, name=name, created_at=now, updated_at=now)
            )
            .on_conflict(action="DO NOTHING")
            .returning(State.id)
        )
        if inserted:
            await audit.record(
                access.principal,
                "state.create",
                organization_id=access.organization_id,
                object_type="state",
                object_id=inserted[0]["id"],
                details={"name": name},
            )


def context(organization_id: uuid.UUID, state_id: uuid.UUID, version_id: uuid.UUID) -> dict[str, str]:
    """Associated data of a version's blob: it decrypts only in this org, state and version."""
    return {"org": str(organization_id), "state": str(state_id), "version": str(version_id)}


def envelope(row: dict[str, Any]) -> crypto.Envelope:
    return crypto.Envelope(
        format=row["enc_format"],
        key_id=row["key_id"],
        wrapped_key=bytes(row["wrapped_key"]),
        ciphertext=bytes(row["ciphertext"]),
    )


class StateUnreadable(AppError):
    """A stored version does not decrypt: tampered or moved data, or a missing master key."""

    status = 500
    code = "state-unreadable"
    title = "State cannot be decrypted"


async def decrypt_version(row: dict[str, Any]) -> bytes:
    """The state bytes of a version row (which must include the blob columns)."""
    ctx = context(row["organization"], row["state"], row["id"])
    try:
        return await crypto.decrypt(envelope(row), context=ctx, size=row["size"])
    except crypto.DecryptionError as exc:
        raise StateUnreadable(
            f"state version serial {row['serial']} cannot be decrypted ({exc}); an operator must check "
            "the encryption keys and the stored data"
        ) from None


async def load_version_blob(state_row: dict[str, Any], which: Combinable) -> dict[str, Any] | None:
    """The version of a state (already reached through ``scoped``) matching ``which``, e.g.
    ``StateVersion.serial == 3``, with its blob columns."""
    row: dict[str, Any] | None = (
        await StateVersion.select(*StateVersion.all_columns())
        .where((StateVersion.state == state_row["id"]) & which)
        .first()
    )
    return row


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


_lock_fields = msgspec.json.Decoder(dict[str, Any])


def lock_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The holder's lock info as Terraform sent it (its seven fields)."""
    raw = row.get("lock_info")
    fields: dict[str, Any] = {}
    if raw:
        try:
            fields = _lock_fields.decode(raw)
        except msgspec.DecodeError:
            fields = {}
    fields.setdefault("ID", row.get("lock_id") or "")
    return fields


def lock_read(row: dict[str, Any]) -> LockRead | None:
    if not row.get("lock_id"):
        return None
    info = lock_fields(row)
    locked_at = row.get("locked_at")
    age = (utcnow() - locked_at).total_seconds() if locked_at else 0.0
    return LockRead(
        id=str(row["lock_id"]),
        operation=str(info.get("Operation", "")),
        who=str(info.get("Who", "")),
        info=str(info.get("Info", "")),
        version=str(info.get("Version", "")),
        created=str(info.get("Created", "")),
        path=str(info.get("Path", "")),
        locked_by=row.get("locked_by"),
        locked_at=locked_at,
        age_seconds=round(max(age, 0.0), 3),
    )


LOCK_INFO_FIELDS = ("ID", "Operation", "Info", "Who", "Version", "Created", "Path")


class StateLocked(Locked):
    """423 whose body carries the holder's lock-info fields at the top level, next to the problem
    fields: Terraform decodes it as lock info, API clients read it as a problem."""

    code = "state-locked"
    title = "State locked"

    def __init__(self, row: dict[str, Any], detail: str | None = None) -> None:
        info = lock_fields(row)
        who = info.get("Who") or row.get("locked_by") or "someone"
        operation = info.get("Operation") or "no operation"
        super().__init__(
            detail or f"the state is locked by {who} (lock {info.get('ID')}, {operation})",
            extra={k: info.get(k, "") for k in LOCK_INFO_FIELDS},
        )


def state_read(row: dict[str, Any]) -> StateRead:
    return StateRead(
        id=row["id"],
        name=row["name"],
        serial=row["serial"],
        lineage=row["lineage"],
        terraform_version=row["terraform_version"],
        size=row["size"] or 0,
        resource_count=row["resource_count"] or 0,
        current_version=row["current_version"],
        design_id=row["design_id"],
        environment=row["environment"],
        lock=lock_read(row),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def version_read(row: dict[str, Any]) -> StateVersionRead:
    return StateVersionRead(
        id=row["id"],
        serial=row["serial"],
        lineage=row["lineage"],
        terraform_version=row["terraform_version"],
        state_format=row["state_format"],
        sha256=row["sha256"],
        md5=row["md5"],
        size=row["size"],
        resource_count=row["resource_count"],
        created_by=Actor(type=row["created_by_type"], id=row["created_by_id"], label=row["created_by_label"]),
        execution_id=row["execution_id"],
        restored_from=row["restored_from"],
        key_id=row["key_id"],
        created_at=row["created_at"],
    )
