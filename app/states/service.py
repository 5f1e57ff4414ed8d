"""The state REST API: list and inspect states, versions, outputs and resources; restore; delete.

Authorization first in every method (``resolve``); every query goes through ``scoped`` or a row
already reached through it. Another organization's state is "not found".
"""

from __future__ import annotations

from app.accounts.authz import Principal, access_for_org, scoped
from app.db import transaction
from app.events import audit
from app.lib.errors import Conflict, Forbidden, not_found
from app.lib.pagination import Keyset
from app.states import backend, content
from app.states.lookup import STATE_COLUMNS, VERSION_META, load_state, load_version_blob, resolve
from app.states.reads import state_read, version_read
from app.states.schemas import (
    OutputsRead,
    ResourcesRead,
    StatePage,
    StateRead,
    StateVersionPage,
    StateVersionRead,
)
from app.states.sealing import decrypt_version
from app.states.tables import State, StateVersion


async def list_states(
    principal: Principal, slug: str, *, locked: bool | None = None, cursor: str | None = None, limit: int = 50
) -> StatePage:
    if principal.kind == "run":  # a run's token reaches its own state only
        raise Forbidden("a pipeline run's token cannot list states", code="forbidden")
    access = await access_for_org(principal, slug=slug, permission="state:read")
    query = scoped(State, access, *STATE_COLUMNS)
    if locked is True:
        query = query.where(State.lock_id.is_not_null())
    elif locked is False:
        query = query.where(State.lock_id.is_null())
    keyset = Keyset(State.name, State.id, descending=False)
    rows = await keyset.apply(query, cursor, limit)
    page, next_cursor = keyset.page(rows, limit)
    return StatePage(items=[state_read(r) for r in page], next_cursor=next_cursor)


async def get_state(principal: Principal, slug: str, name: str) -> StateRead:
    access = await resolve(principal, slug, name, "state:read")
    return state_read(await load_state(access, name))


async def delete_state(principal: Principal, slug: str, name: str) -> None:
    """Delete a state and all its versions (``state:admin``; refused while locked)."""
    access = await resolve(principal, slug, name, "state:admin")
    async with transaction():
        row = await load_state(access, name, lock=True)
        if row["lock_id"]:
            raise Conflict(
                "the state is locked; release or force-unlock it before deleting", code="state-locked"
            )
        versions = await StateVersion.count().where(StateVersion.state == row["id"])
        await StateVersion.delete().where(StateVersion.state == row["id"])
        await State.delete().where(State.id == row["id"])
        await audit.record(
            principal,
            "state.delete",
            organization_id=access.organization_id,
            object_type="state",
            object_id=row["id"],
            details={"name": name, "serial": row["serial"], "versions": versions},
        )


async def list_versions(
    principal: Principal, slug: str, name: str, *, cursor: str | None = None, limit: int = 50
) -> StateVersionPage:
    access = await resolve(principal, slug, name, "state:read")
    row = await load_state(access, name)
    query = scoped(StateVersion, access, *VERSION_META).where(StateVersion.state == row["id"])
    keyset = Keyset(StateVersion.serial, StateVersion.id)
    rows = await keyset.apply(query, cursor, limit)
    page, next_cursor = keyset.page(rows, limit)
    return StateVersionPage(items=[version_read(r) for r in page], next_cursor=next_cursor)


async def download_version(
    principal: Principal, slug: str, name: str, serial: int
) -> tuple[bytes, StateVersionRead]:
    """The decrypted bytes of one version and its metadata."""
    access = await resolve(principal, slug, name, "state:read")
    version = await load_version_blob(await load_state(access, name), StateVersion.serial == serial)
    if version is None:
        raise not_found("state version")
    return await decrypt_version(version), version_read(version)


async def restore_version(principal: Principal, slug: str, name: str, serial: int) -> StateVersionRead:
    access = await resolve(principal, slug, name, "state:admin")
    result = await backend.restore(access, name, serial)
    row = await StateVersion.select(*VERSION_META).where(StateVersion.id == result.version_id).first()
    if row is None:
        raise not_found("state version")
    return version_read(row)


async def _current_document(principal: Principal, slug: str, name: str, permission: str):
    access = await resolve(principal, slug, name, permission)
    row = await load_state(access, name)
    if row["current_version"] is None:
        return access, row, None
    version = await load_version_blob(row, StateVersion.id == row["current_version"])
    return access, row, None if version is None else await decrypt_version(version)


async def outputs(principal: Principal, slug: str, name: str, *, show_sensitive: bool = False) -> OutputsRead:
    """Root outputs of the current version; sensitive values only for ``state:admin`` who asks."""
    access, row, data = await _current_document(principal, slug, name, "state:read")
    if show_sensitive and not access.has("state:admin"):
        raise Forbidden("revealing sensitive outputs needs the 'state:admin' permission", code="forbidden")
    if data is None:
        return OutputsRead(serial=None, outputs=[])
    items = content.outputs(data, reveal=show_sensitive)
    if show_sensitive and any(o.sensitive for o in items):
        await audit.record(
            principal,
            "state.outputs.reveal",
            organization_id=access.organization_id,
            object_type="state",
            object_id=row["id"],
            details={
                "name": name,
                "serial": row["serial"],
                "sensitive": [o.name for o in items if o.sensitive],
            },
        )
    return OutputsRead(serial=row["serial"], outputs=items)


async def resources(principal: Principal, slug: str, name: str) -> ResourcesRead:
    _, row, data = await _current_document(principal, slug, name, "state:read")
    if data is None:
        return ResourcesRead(serial=None, resources=[])
    return ResourcesRead(serial=row["serial"], resources=content.resources(data))
