"""Notifications from domain events: who an event concerns, minus those who muted its type and
whoever caused it, gets one notification each.

``notify`` is a subscriber of the event bus (``app.events.bus``): it runs in the transaction that
emitted the event, so the notifications exist exactly when the change does; they are published
to their users' live streams after the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from app.accounts.tables import ApiKey, Member, Organization, User
from app.db import after_commit
from app.events.bus import DomainEvent
from app.lib.clock import utcnow
from app.notifications import live
from app.notifications.catalog import NOTIFYING
from app.notifications.describe import describe
from app.notifications.inbox import notification_read
from app.notifications.tables import Notification, NotificationPreference
from app.notifications.watch import watchers
from app.pipelines.tables import Execution, Pipeline

Audience = tuple[set[uuid.UUID], bool]  # the users, and whether the notification is personal


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


async def members_with(organization_id: uuid.UUID, permission: str) -> set[uuid.UUID]:
    """The organization's members whose role holds ``permission``."""
    rows = (
        await Member.select(Member.user, Member.role._.permissions)
        .where(Member.organization == organization_id)
        .output(load_json=True)
    )
    return {r["user"] for r in rows if permission in (r["role.permissions"] or [])}


async def starter(execution_id: uuid.UUID | None) -> set[uuid.UUID]:
    """Who started an execution: its user, or the creator of the API key that started it."""
    if execution_id is None:
        return set()
    row = (
        await Execution.select(Execution.created_by_type, Execution.created_by_id)
        .where(Execution.id == execution_id)
        .first()
    )
    if row is None or row["created_by_id"] is None:
        return set()
    if row["created_by_type"] == "user":
        return {row["created_by_id"]}
    if row["created_by_type"] == "api_key":
        key = await ApiKey.select(ApiKey.created_by).where(ApiKey.id == row["created_by_id"]).first()
        return {key["created_by"]} if key and key["created_by"] else set()
    return set()


async def _approval(event: DomainEvent) -> Audience:
    pipeline = _uuid(event.data.get("pipeline_id"))
    row = await Pipeline.select(Pipeline.require_approval).where(Pipeline.id == pipeline).first()
    if row is not None and row["require_approval"]:
        return await members_with(event.organization_id, "pipeline:approve"), False
    # Only a confirmation is needed: whoever started it (anyone with pipeline:run could).
    readers = await members_with(event.organization_id, "pipeline:read")
    return await starter(_uuid(event.data.get("execution_id"))) & readers, False


async def _errored(event: DomainEvent) -> Audience:
    readers = await members_with(event.organization_id, "pipeline:read")
    return await starter(_uuid(event.data.get("execution_id")) or _uuid(event.object_id)) & readers, False


async def _drift(event: DomainEvent) -> Audience:
    pipeline = _uuid(event.data.get("pipeline_id"))
    if pipeline is None and event.object_type == "pipeline":
        pipeline = _uuid(event.object_id)
    if pipeline is None:
        return set(), False
    readers = await members_with(event.organization_id, "pipeline:read")
    return await watchers(pipeline, event.organization_id) & readers, False


async def _invited(event: DomainEvent) -> Audience:
    email = str(event.data.get("email") or "")
    row = await User.select(User.id).where(User.email == email).first() if email else None
    return ({row["id"]} if row else set()), True


def _members(permission: str) -> Callable[[DomainEvent], Awaitable[Audience]]:
    async def audience(event: DomainEvent) -> Audience:
        return await members_with(event.organization_id, permission), False

    return audience


AUDIENCES: dict[str, Callable[[DomainEvent], Awaitable[Audience]]] = {
    "execution.needs_approval": _approval,
    "execution.errored": _errored,
    "drift.detected": _drift,
    "drift.resolved": _drift,
    "drift.errored": _drift,
    "state.force_unlocked": _members("state:admin"),
    "invitation.created": _invited,
    "webhook.disabled": _members("org:admin"),
}
assert set(AUDIENCES) == set(NOTIFYING), "every notifying event type needs an audience"


async def _muted(users: set[uuid.UUID], event_type: str) -> set[uuid.UUID]:
    rows = (
        await NotificationPreference.select(NotificationPreference.user, NotificationPreference.muted)
        .where(NotificationPreference.user.is_in(list(users)))
        .output(load_json=True)
    )
    return {r["user"] for r in rows if event_type in (r["muted"] or [])}


async def notify(event: DomainEvent) -> None:
    """Subscriber: make the event's notifications (inside the emitting transaction)."""
    audience = AUDIENCES.get(event.type)
    if audience is None:
        return
    users, personal = await audience(event)
    if event.actor_type == "user" and event.actor_id is not None:
        users.discard(event.actor_id)  # nobody needs telling what they just did
    if users:
        users -= await _muted(users, event.type)
    if not users:
        return
    org = await Organization.select(Organization.slug).where(Organization.id == event.organization_id).first()
    slug = org["slug"] if org else ""
    words = describe(event.type, event.data, slug)
    now = utcnow()
    rows = [
        Notification(
            id=uuid.uuid4(),
            user=user,
            organization=None if personal else event.organization_id,
            type=event.type,
            title=words.title[:300],
            body=words.body,
            object_type=event.object_type,
            object_id=event.object_id,
            link=words.link[:500],
            data=event.data,
            event_id=event.id,
            unread=True,
            created_at=now,
        )
        for user in sorted(users)
    ]
    await Notification.insert(*rows).on_conflict(action="DO NOTHING")
    made = [
        (row.user, notification_read({**row.to_dict(), "organization.slug": None if personal else slug}))
        for row in rows
    ]

    async def tell() -> None:
        for user, item in made:
            live.publish(user, item)

    await after_commit(tell)
