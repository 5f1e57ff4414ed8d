"""Finding states: access to an organization's state by name, loading rows and versions.

Every state query of the services starts here, through ``scoped`` (or a row already reached
through it), so another organization's state is always "not found".
"""

from __future__ import annotations

from typing import Any

from piccolo.columns.combination import Combinable

from app.accounts.authz import Access, Principal, access_for_org, scoped, tenant_column
from app.db import for_update, transaction
from app.events import audit
from app.lib.clock import utcnow
from app.lib.errors import BadRequest, not_found
from app.states.header import valid_state_name
from app.states.tables import State, StateVersion

STATE_COLUMNS = [c for c in State.all_columns()]
# Version metadata without the blob columns (lists never load ciphertext).
VERSION_META = [c for c in StateVersion.all_columns() if c._meta.name not in ("wrapped_key", "ciphertext")]


async def resolve(principal: Principal, slug: str, name: str, permission: str) -> Access:
    """Access to the organization with ``permission``; a malformed state name is a 400.

    A pipeline run's token reaches exactly one state, its execution's: any other is not found."""
    access = await access_for_org(principal, slug=slug, permission=permission)
    check_name(name)
    if principal.kind == "run" and principal.extra.get("state") != name:
        raise not_found("state")
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


async def load_version_blob(state_row: dict[str, Any], which: Combinable) -> dict[str, Any] | None:
    """The version of a state (already reached through ``scoped``) matching ``which``, e.g.
    ``StateVersion.serial == 3``, with its blob columns."""
    row: dict[str, Any] | None = (
        await StateVersion.select(*StateVersion.all_columns())
        .where((StateVersion.state == state_row["id"]) & which)
        .first()
    )
    return row
