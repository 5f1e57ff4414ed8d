"""A user's notifications: list (unread first), mark read, count, and which types they want.

Notifications belong to users (API keys have none). One about an organization the user has left
is no longer shown.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from piccolo.columns.combination import Combinable

from app.accounts.authz import Principal
from app.accounts.tables import Member
from app.db import transaction
from app.events import audit
from app.lib.clock import utcnow
from app.lib.errors import FieldError, ValidationFailed, not_found
from app.lib.pagination import decode_cursor, encode_cursor, invalid_cursor
from app.notifications.catalog import EVENT_TYPES, NOTIFYING
from app.notifications.schemas import (
    NotificationPage,
    NotificationRead,
    PreferenceItem,
    PreferencesRead,
    PreferencesUpdate,
    ReadAllResult,
    UnreadCount,
)
from app.notifications.tables import Notification, NotificationPreference
from app.notifications.watch import user_of

COLUMNS = (*Notification.all_columns(), Notification.organization._.slug)


def notification_read(row: dict[str, Any]) -> NotificationRead:
    return NotificationRead(
        id=row["id"],
        type=row["type"],
        title=row["title"],
        body=row["body"],
        organization_id=row["organization"],
        organization_slug=row.get("organization.slug"),
        object_type=row["object_type"],
        object_id=row["object_id"],
        link=row["link"],
        data=row["data"] if isinstance(row["data"], dict) else {},
        read=not row["unread"],
        read_at=row["read_at"],
        created_at=row["created_at"],
    )


async def member_orgs(user_id: uuid.UUID) -> list[uuid.UUID]:
    return [r["organization"] for r in await Member.select(Member.organization).where(Member.user == user_id)]


async def _visible(user_id: uuid.UUID) -> Combinable:
    """The user's notifications: personal ones and those of organizations they are still in."""
    mine = Notification.user == user_id
    orgs = await member_orgs(user_id)
    if not orgs:
        return mine & Notification.organization.is_null()
    return mine & (Notification.organization.is_null() | Notification.organization.is_in(orgs))


async def _filters(
    user_id: uuid.UUID, unread: bool | None, type_: str | None, organization: str | None
) -> Combinable:
    where = await _visible(user_id)
    if unread is not None:
        where &= Notification.unread == unread
    if type_:
        where &= (
            Notification.type.like(type_.replace("*", "%")) if "*" in type_ else Notification.type == type_
        )
    if organization:
        where &= Notification.organization._.slug == organization
    return where


def _after(cursor: str) -> Combinable:
    """Rows after the cursor in the order unread first, then newest first."""
    values = decode_cursor(cursor)
    if len(values) != 3 or not isinstance(values[0], bool):
        raise invalid_cursor()
    try:
        created, ident = dt.datetime.fromisoformat(values[1]), uuid.UUID(values[2])
    except (TypeError, ValueError):
        raise invalid_cursor() from None
    unread = values[0]
    same = Notification.unread == unread
    later = (Notification.created_at < created) | (
        (Notification.created_at == created) & (Notification.id < ident)
    )
    if unread:  # the rest of the unread ones, then every read one
        return (same & later) | (Notification.unread == False)  # noqa: E712
    return same & later


async def list_notifications(
    principal: Principal,
    *,
    unread: bool | None = None,
    type_: str | None = None,
    organization: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> NotificationPage:
    user_id = user_of(principal)
    where = await _filters(user_id, unread, type_, organization)
    if cursor:
        where &= _after(cursor)
    rows = (
        await Notification.select(*COLUMNS)
        .where(where)
        .order_by(Notification.unread, Notification.created_at, Notification.id, ascending=False)
        .limit(limit + 1)
        .output(load_json=True)
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([bool(last["unread"]), last["created_at"], last["id"]])
    return NotificationPage(items=[notification_read(r) for r in rows], next_cursor=next_cursor)


async def mark_read(principal: Principal, notification_id: uuid.UUID) -> NotificationRead:
    user_id = user_of(principal)
    where = (await _visible(user_id)) & (Notification.id == notification_id)
    await Notification.update({Notification.unread: False, Notification.read_at: utcnow()}).where(
        where & (Notification.unread == True)  # noqa: E712
    )
    row = await Notification.select(*COLUMNS).where(where).first().output(load_json=True)
    if row is None:
        raise not_found("notification")
    return notification_read(row)


async def mark_all_read(
    principal: Principal, *, type_: str | None = None, organization: str | None = None
) -> ReadAllResult:
    user_id = user_of(principal)
    where = await _filters(user_id, True, type_, organization)
    ids = [r["id"] for r in await Notification.select(Notification.id).where(where)]
    if not ids:
        return ReadAllResult(marked=0)
    marked = (
        await Notification.update({Notification.unread: False, Notification.read_at: utcnow()})
        .where(Notification.id.is_in(ids) & (Notification.unread == True))  # noqa: E712
        .returning(Notification.id)
    )
    return ReadAllResult(marked=len(marked))


async def unread_count(principal: Principal, organization: str | None = None) -> UnreadCount:
    user_id = user_of(principal)
    where = await _filters(user_id, True, None, organization)
    return UnreadCount(unread=int(await Notification.count().where(where)))


# --- preferences -----------------------------------------------------------------------------------


async def muted_types(user_id: uuid.UUID) -> set[str]:
    row = (
        await NotificationPreference.select(NotificationPreference.muted)
        .where(NotificationPreference.user == user_id)
        .first()
        .output(load_json=True)
    )
    return set(row["muted"] or []) if row else set()


def _preferences(muted: set[str]) -> PreferencesRead:
    return PreferencesRead(
        events=[
            PreferenceItem(type=t, description=EVENT_TYPES[t], recipients=who, enabled=t not in muted)
            for t, who in NOTIFYING.items()
        ]
    )


async def get_preferences(principal: Principal) -> PreferencesRead:
    return _preferences(await muted_types(user_of(principal)))


async def update_preferences(principal: Principal, data: PreferencesUpdate) -> PreferencesRead:
    user_id = user_of(principal)
    errors = [
        FieldError(
            f"events.{t[:64]}", "not a type of notification (see GET /api/v1/notifications/preferences)"
        )
        for t in data.events
        if t not in NOTIFYING
    ]
    if errors:
        raise ValidationFailed("unknown notification types", errors=errors)
    async with transaction():
        muted = await muted_types(user_id)
        muted |= {t for t, on in data.events.items() if not on}
        muted -= {t for t, on in data.events.items() if on}
        values: dict[Any, Any] = {
            NotificationPreference.muted: sorted(muted),
            NotificationPreference.updated_at: utcnow(),
        }
        changed = (
            await NotificationPreference.update(values)
            .where(NotificationPreference.user == user_id)
            .returning(NotificationPreference.id)
        )
        if not changed:
            await NotificationPreference.insert(
                NotificationPreference(user=user_id, muted=sorted(muted), updated_at=utcnow())
            ).on_conflict(action="DO NOTHING")
        await audit.record(
            principal,
            "notification.preferences",
            organization_id=None,
            object_type="user",
            object_id=user_id,
            details={"muted": sorted(muted)},
        )
    return _preferences(muted)
