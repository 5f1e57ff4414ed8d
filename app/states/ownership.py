"""A state owned by a pipeline: claiming it, recording what was applied, and what Board3 does for a
run it had to stop (release the run's lock, mark the state as possibly diverged).

Called by the pipelines domain inside its own transactions and after its own authorization; these
functions take an ``Access`` (or ids reached through one) and never widen it.
"""

from __future__ import annotations

import uuid

from app.accounts.authz import Access
from app.db import for_update
from app.events import audit
from app.events.bus import emit
from app.lib.clock import utcnow
from app.lib.errors import Conflict
from app.lib.principal import Principal
from app.states.lookup import create_state, named
from app.states.tables import State


async def claim(
    access: Access, name: str, *, design_id: uuid.UUID, environment: str, pipeline_id: uuid.UUID
) -> uuid.UUID:
    """The state ``name`` for a new pipeline (created if missing; an existing one is taken over
    unless another pipeline owns it). Returns its id."""
    await create_state(access, name)
    claimed = (
        await State.update(
            {State.design_id: design_id, State.environment: environment, State.pipeline_id: pipeline_id},
            use_auto_update=False,
        )
        .where(named(access, name) & (State.pipeline_id.is_null() | (State.pipeline_id == pipeline_id)))
        .returning(State.id)
    )
    if not claimed:
        raise Conflict(f"the state {name!r} belongs to another pipeline", code="state-owned")
    state_id: uuid.UUID = claimed[0]["id"]
    return state_id


async def release(state_id: uuid.UUID, pipeline_id: uuid.UUID) -> None:
    """The pipeline is gone; its state (and the infrastructure it records) stays."""
    await State.update(
        {
            State.design_id: None,
            State.environment: None,
            State.pipeline_id: None,
            State.applied_version: None,
        },
        use_auto_update=False,
    ).where((State.id == state_id) & (State.pipeline_id == pipeline_id))


async def record_apply(state_id: uuid.UUID, version: int | None) -> None:
    """A pipeline applied design ``version`` successfully (``None``: it destroyed everything):
    whatever a killed run left behind has been reconciled by it."""
    await State.update(
        {State.applied_version: version, State.diverged_at: None, State.diverged_reason: None},
        use_auto_update=False,
    ).where(State.id == state_id)


async def mark_diverged(state_id: uuid.UUID, reason: str) -> None:
    await State.update(
        {State.diverged_at: utcnow(), State.diverged_reason: reason[:1000]}, use_auto_update=False
    ).where(State.id == state_id)


async def release_run_lock(actor: Principal, state_id: uuid.UUID, run_id: uuid.UUID, reason: str) -> bool:
    """Release the state's lock if the run ``run_id`` holds it (terraform holds it through the run's
    token; a killed terraform never releases it, and the http backend has no lease). Audited as a
    force-unlock by ``actor``. Returns whether a lock was released."""
    row = await for_update(
        State.select(State.id, State.organization, State.name, State.lock_id, State.locked_by_id)
        .where(State.id == state_id)
        .first()
    )
    if row is None or row["lock_id"] is None or row["locked_by_id"] != run_id:
        return False
    await State.update(
        {
            State.lock_id: None,
            State.lock_info: None,
            State.locked_by: None,
            State.locked_by_id: None,
            State.locked_at: None,
        },
        use_auto_update=False,
    ).where((State.id == state_id) & (State.lock_id == row["lock_id"]))
    await audit.record(
        actor,
        "state.force_unlock",
        organization_id=row["organization"],
        object_type="state",
        object_id=state_id,
        details={
            "name": row["name"],
            "lock_id": row["lock_id"],
            "execution_id": str(run_id),
            "reason": reason,
        },
    )
    await emit(
        actor,
        "state.force_unlocked",
        organization_id=row["organization"],
        object_type="state",
        object_id=state_id,
        data={"state": row["name"], "lock_id": row["lock_id"], "execution_id": str(run_id), "reason": reason},
    )
    return True
