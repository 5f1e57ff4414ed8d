"""Live design events: published to a channel per design, streamed as server-sent events.

Publishing goes through Litestar channels (Redis pub/sub in production, so a save handled by one
process reaches streams held by another; memory in embedded mode). Events are published after the
transaction commits; a lost event costs a client one refetch, never a wrong state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
from litestar.channels import ChannelsPlugin
from litestar.response import ServerSentEventMessage

from app.accounts.authz import Principal
from app.designs.access import design_access
from app.designs.schemas import DesignEvent, EventType
from app.lib.channels import RESYNC
from app.lib.clock import utcnow
from app.lib.errors import AppError
from app.lib.subscriptions import subscription

log = logging.getLogger("board3.designs.events")

HEARTBEAT_SECONDS = 15.0
BACKLOG = 1000


def channel_name(design_id: uuid.UUID) -> str:
    return f"design:{design_id}"


class DesignEvents:
    """Publishes design events; a no-op without a channels plugin (scripts, jobs without an app)."""

    def __init__(self, channels: ChannelsPlugin | None) -> None:
        self.channels = channels

    def publish(
        self, design_id: uuid.UUID, type_: EventType, actor: Principal, data: dict[str, Any] | None = None
    ) -> None:
        if self.channels is None:
            return
        event = DesignEvent(
            id=uuid.uuid4().hex,
            type=type_,
            design_id=design_id,
            at=utcnow(),
            actor=actor.label,
            data=data or {},
        )
        try:
            self.channels.publish(msgspec.json.encode(event), channel_name(design_id))
        except Exception as exc:  # never fail a committed write because the bus is down
            log.warning("could not publish %s for design %s: %s", type_, design_id, exc)


RESYNC_EVENT = ServerSentEventMessage(
    event="resync",
    data='{"reason":"the live connection was interrupted; events may have been missed, refetch the design"}',
)


def _sse(payload: bytes) -> ServerSentEventMessage:
    if payload == RESYNC:  # the bus reconnected: what was published meanwhile is lost
        return RESYNC_EVENT
    try:
        event = msgspec.json.decode(payload, type=DesignEvent)
    except msgspec.DecodeError:
        return ServerSentEventMessage(data=payload.decode(errors="replace"), event="message")
    return ServerSentEventMessage(data=payload.decode(), event=event.type, id=event.id)


def _concerns_access(payload: bytes) -> bool:
    """Events after which a subscriber's right to keep listening must be checked again."""
    return b'"type":"share.changed"' in payload or b'"type":"design.deleted"' in payload


async def stream(
    channels: ChannelsPlugin,
    design_id: uuid.UUID,
    still_allowed: Callable[[], Awaitable[bool]],
    heartbeat: float = HEARTBEAT_SECONDS,
) -> AsyncIterator[ServerSentEventMessage]:
    """Yield the design's events until the client goes away or loses access.

    Access is checked again after every share change or deletion and at every heartbeat, so a
    revoked share ends the stream at once. After the event bus lost its connection and got it
    back, the stream gets a ``resync`` event: events published meanwhile are gone, refetch. A
    client too slow to keep up loses the oldest events (it refetches the design on the next one;
    ETags make that cheap).
    """
    async with subscription(channels, channel_name(design_id), BACKLOG) as queue:
        yield ServerSentEventMessage(data=None, comment="connected", retry=3000)
        while True:
            try:
                payload = await asyncio.wait_for(queue.get(), timeout=heartbeat)
            except TimeoutError:
                if not await still_allowed():
                    return
                yield ServerSentEventMessage(data=None, comment="keep-alive")
                continue
            if (payload == RESYNC or _concerns_access(payload)) and not await still_allowed():
                return
            yield _sse(payload)


async def subscribe(
    principal: Principal, channels: ChannelsPlugin, design_id: uuid.UUID
) -> AsyncIterator[ServerSentEventMessage]:
    """The design's event stream for ``principal``: read access is checked now (404/403 before
    the stream starts) and again whenever ``stream`` asks, so it ends when access is lost."""
    await design_access(principal, design_id, "read")
    # The generation tokens the principal carries were read when the stream opened; the checks
    # that follow must not trust what was remembered under them, so they read the database.
    later = dataclasses.replace(principal, generations=None)

    async def still_allowed() -> bool:
        try:
            await design_access(later, design_id, "read")
        except AppError:
            return False
        return True

    return stream(channels, design_id, still_allowed)
