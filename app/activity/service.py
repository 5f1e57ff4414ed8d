"""Reading the audit log (the writer is ``app.events.audit``)."""

from __future__ import annotations

import datetime as dt
import uuid

from app.accounts.authz import Access, Principal, access_for_org, scoped
from app.activity.schemas import AuditEntry, AuditPage
from app.events.tables import AuditLog
from app.lib.pagination import Keyset


async def list_entries(
    principal: Principal,
    slug: str,
    *,
    actor: uuid.UUID | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> AuditPage:
    access: Access = await access_for_org(principal, slug=slug, permission="audit:read")
    query = scoped(AuditLog, access, *AuditLog.all_columns())
    if actor is not None:
        query = query.where(AuditLog.actor_id == actor)
    if action:
        query = query.where(
            AuditLog.action.like(action.replace("*", "%")) if "*" in action else AuditLog.action == action
        )
    if object_type:
        query = query.where(AuditLog.object_type == object_type)
    if object_id:
        query = query.where(AuditLog.object_id == object_id)
    if since is not None:
        query = query.where(AuditLog.created_at >= since)
    if until is not None:
        query = query.where(AuditLog.created_at < until)
    keyset = Keyset(AuditLog.created_at, AuditLog.id)
    rows = await keyset.apply(query, cursor, limit).output(load_json=True)
    page, next_cursor = keyset.page(rows, limit)
    return AuditPage(items=[AuditEntry(**row) for row in page], next_cursor=next_cursor)
