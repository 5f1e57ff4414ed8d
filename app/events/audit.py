"""The audit writer: every mutation appends one row, in the same transaction as the change.

It sits below the domains that call it (accounts, designs, states, pipelines); reading the log is
the activity domain's business (``app.activity``).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from app.events.tables import AuditLog
from app.lib.clock import utcnow
from app.lib.principal import Principal

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
) -> dict[str, Any]:
    """The audit row for one mutation, column name -> value, not yet written (``record`` writes
    it; a statement that changes a row and records it at once takes it as it is)."""
    return {
        "id": uuid.uuid4(),
        "organization_id": organization_id,
        "actor_type": principal.kind,
        "actor_id": principal.actor_id,
        "actor_label": principal.label[:320],
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id)[:128],
        "details": _clean(details or {}),
        "ip": principal.ip,
        "user_agent": (principal.user_agent or "")[:512] or None,
        "request_id": principal.request_id,
        "created_at": utcnow(),
    }


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
    await AuditLog.insert(AuditLog.from_dict(row))
    log.info("audit", extra={"action": action, "object_type": object_type, "object_id": str(object_id)})
