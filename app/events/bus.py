"""Domain events: one function, ``emit``, for everything other parts of Board3 may react to.

An event is written to ``domain_events`` in the caller's transaction (so it exists exactly when the
change it describes does), handed to the subscribers the composition root registered on the
``Runtime`` (still inside that transaction: a notification or a webhook delivery they create
commits or rolls back with the change), and published on the organization's event channel after
the commit, for live views. Each subscriber runs under a savepoint: one that fails is logged and
its own writes are undone, while the change and the other subscribers' writes stand (without it,
a failed statement would abort the whole transaction on PostgreSQL).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from app.db import after_commit, savepoint
from app.events.tables import DomainEventRow
from app.lib import runtime
from app.lib.clock import utcnow
from app.lib.principal import Principal

log = logging.getLogger("board3.events")


@dataclasses.dataclass(frozen=True, slots=True)
class DomainEvent:
    id: uuid.UUID
    type: str
    organization_id: uuid.UUID
    object_type: str
    object_id: str
    actor_type: str
    actor_id: uuid.UUID | None
    actor_label: str
    data: dict[str, Any]
    created_at: dt.datetime


Subscriber = Callable[[DomainEvent], Awaitable[None]]


def channel_name(organization_id: uuid.UUID) -> str:
    return f"events:{organization_id}"


async def emit(
    actor: Principal,
    type_: str,
    *,
    organization_id: uuid.UUID,
    object_type: str,
    object_id: object,
    data: dict[str, Any] | None = None,
) -> DomainEvent:
    """Record ``type_`` (``execution.needs_approval``, ...) in the current transaction and tell the
    subscribers. ``data`` must hold no secret: events reach webhooks and notifications."""
    event = DomainEvent(
        id=uuid.uuid4(),
        type=type_,
        organization_id=organization_id,
        object_type=object_type,
        object_id=str(object_id)[:128],
        actor_type=actor.kind,
        actor_id=actor.actor_id,
        actor_label=actor.label[:320],
        data=data or {},
        created_at=utcnow(),
    )
    await DomainEventRow.insert(DomainEventRow(**dataclasses.asdict(event)))
    current = runtime.current()
    for subscriber in current.subscribers if current is not None else ():
        try:
            async with savepoint():
                await subscriber(event)
        except Exception:  # a broken reaction must not undo what happened
            log.exception("event subscriber failed", extra={"event": type_, "event_id": str(event.id)})
    if current is not None and current.channels is not None:
        channels = current.channels
        payload = msgspec.json.encode(event)

        async def publish() -> None:
            try:
                channels.publish(payload, channel_name(organization_id))
            except Exception as exc:  # live views refetch; the row is the record
                log.warning("could not publish event %s: %s", type_, exc)

        await after_commit(publish)
    return event
