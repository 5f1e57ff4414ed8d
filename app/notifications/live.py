"""Live notifications over server-sent events: one channel per user, published after the
notification's transaction commits (Redis pub/sub in production, so a notification made by a
worker reaches a stream held by any server)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import msgspec
from litestar.channels import ChannelsPlugin
from litestar.response import ServerSentEventMessage

from app.accounts.authz import Principal
from app.accounts.tables import User
from app.lib import runtime
from app.lib.subscriptions import subscription
from app.notifications.inbox import member_orgs, unread_count
from app.notifications.schemas import NotificationRead
from app.notifications.watch import user_of

log = logging.getLogger("board3.notifications")

HEARTBEAT_SECONDS = 15.0
BACKLOG = 500
_decode = msgspec.json.Decoder(NotificationRead)


def channel_name(user_id: uuid.UUID) -> str:
    return f"notifications:{user_id}"


def publish(user_id: uuid.UUID, notification: NotificationRead) -> None:
    """Tell the user's open streams (a lost message costs a refetch, never a wrong count)."""
    current = runtime.current()
    if current is None or current.channels is None:
        return
    try:
        current.channels.publish(msgspec.json.encode(notification), channel_name(user_id))
    except Exception as exc:
        log.warning("could not publish a notification: %s", exc)


async def _still_allowed(user_id: uuid.UUID) -> bool:
    row = await User.select(User.is_active).where(User.id == user_id).first()
    return row is not None and bool(row["is_active"])


async def stream(
    principal: Principal, channels: ChannelsPlugin, heartbeat: float = HEARTBEAT_SECONDS
) -> AsyncIterator[ServerSentEventMessage]:
    """The caller's new notifications as ``notification`` events (data: the notification), after
    an ``unread`` event with the current count. The user's memberships are read again at every
    heartbeat: notifications of an organization they have left stop at once, and the stream ends
    if the account is deactivated or deleted."""
    user_id = user_of(principal)
    count = await unread_count(principal)
    orgs = set(await member_orgs(user_id))

    async def events() -> AsyncIterator[ServerSentEventMessage]:
        nonlocal orgs
        async with subscription(channels, channel_name(user_id), BACKLOG) as queue:
            yield ServerSentEventMessage(data=None, comment="connected", retry=3000)
            yield ServerSentEventMessage(data=msgspec.json.encode(count).decode(), event="unread")
            while True:
                try:
                    payload = await asyncio.wait_for(queue.get(), timeout=heartbeat)
                except TimeoutError:
                    if not await _still_allowed(user_id):
                        return
                    orgs = set(await member_orgs(user_id))
                    yield ServerSentEventMessage(data=None, comment="keep-alive")
                    continue
                try:
                    item = _decode.decode(payload)
                except msgspec.DecodeError:
                    continue
                if item.organization_id is not None and item.organization_id not in orgs:
                    orgs = set(await member_orgs(user_id))  # joined since the last look?
                    if item.organization_id not in orgs:
                        continue
                yield ServerSentEventMessage(data=payload.decode(), event="notification", id=str(item.id))

    return events()
