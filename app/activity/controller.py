"""HTTP routes for the audit log."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from app.accounts.authz import Principal
from app.activity import service
from app.activity.schemas import AuditPage
from app.lib.pagination import DEFAULT_LIMIT, Cursor, Limit


class AuditController(Controller):
    path = "/api/v1/orgs/{org:str}/audit-logs"
    tags = ["audit"]

    @get("/", summary="The organization's audit log, newest first (audit:read)")
    async def list_entries(
        self,
        principal: NamedDependency[Principal],
        org: FromPath[str],
        actor: Annotated[uuid.UUID | None, QueryParameter(description="User or API key id")] = None,
        action: Annotated[
            str | None,
            QueryParameter(max_length=64, description="Exact action, or a prefix with `*` (`member.*`)"),
        ] = None,
        object_type: Annotated[str | None, QueryParameter(max_length=32)] = None,
        object_id: Annotated[str | None, QueryParameter(max_length=128)] = None,
        since: Annotated[
            dt.datetime | None, QueryParameter(description="Inclusive lower bound (RFC 3339)")
        ] = None,
        until: Annotated[
            dt.datetime | None, QueryParameter(description="Exclusive upper bound (RFC 3339)")
        ] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> AuditPage:
        """Entries are append-only: the database refuses to change or delete them."""
        return await service.list_entries(
            principal,
            org,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )
