"""Audit log schemas."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from app.lib.schema import Response


class AuditEntry(Response):
    """One recorded mutation."""

    id: uuid.UUID
    organization_id: uuid.UUID | None
    actor_type: str
    actor_id: uuid.UUID | None
    actor_label: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]
    ip: str | None
    user_agent: str | None
    request_id: str | None
    created_at: dt.datetime


class AuditPage(Response):
    items: list[AuditEntry]
    next_cursor: str | None = None
