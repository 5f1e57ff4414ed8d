"""The audit log: every mutation appends one row, in the same transaction as the change."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from app.accounts.authz import Access, Principal, access_for_org, scoped
from app.activity.schemas import AuditEntry, AuditPage
from app.activity.tables import AuditLog
from app.lib.clock import utcnow
from app.lib.pagination import Keyset

log = logging.getLogger("board3.audit")

_SENSITIVE = ("password", "secret", "token", "key", "authorization")


def _clean(details: dict[str, Any]) -> dict[str, Any]:
    """Defence in depth: never let a secret-looking field into the audit log."""
    return {k: ("[redacted]" if any(s in k.lower() for s in _SENSITIVE) else v) for k, v in details.items()}


def entry(
    principal: Principal,
    action: str,
    *,
    organization_id: uuid.UUID | None,
    object_type: str = "",
    object_id: Any = "",
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """The audit row for one mutation, not yet written (``record`` writes it; a statement that
    changes a row and records it at once takes it as it is)."""
    return AuditLog(
        organization_id=organization_id,
        actor_type=principal.kind,
        actor_id=principal.actor_id,
        actor_label=principal.label[:320],
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:128],
        details=_clean(details or {}),
        ip=principal.ip,
        user_agent=(principal.user_agent or "")[:512] or None,
        request_id=principal.request_id,
        created_at=utcnow(),
    )


async def record(
    principal: Principal,
    action: str,
    *,
    organization_id: uuid.UUID | None,
    object_type: str = "",
    object_id: Any = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Append one audit row. Call it inside the transaction that makes the change."""
    row = entry(
        principal,
        action,
        organization_id=organization_id,
        object_type=object_type,
        object_id=object_id,
        details=details,
    )
    await AuditLog.insert(row)
    log.info("audit", extra={"action": action, "object_type": object_type, "object_id": str(object_id)})


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
