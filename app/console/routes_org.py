"""Organization pages: members and roles, API keys (the secret shown once), the audit log and run
analytics across the organization's pipelines."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from app.accounts import apikeys, orgs
from app.accounts.permissions import ASSIGNABLE, PERMISSIONS
from app.accounts.schemas import ApiKeyCreate
from app.activity import service as audit_log
from app.console import charts, reads
from app.console.forms import convert, form_fields, text
from app.console.render import page, redirect, shell_for
from app.lib.clock import utcnow
from app.lib.principal import Principal
from app.pipelines import stats

CursorQuery = Annotated[str | None, QueryParameter(max_length=512)]
ActionQuery = Annotated[str | None, QueryParameter(max_length=100)]
PAGE_SIZE = 50


class OrganizationPages(Controller):
    path = "/orgs/{org:str}"

    @get("/members")
    async def members(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], org: FromPath[str]
    ) -> Response[Any]:
        people = await orgs.list_members(principal, org)
        roles = await orgs.list_roles(principal, org)
        return await page(request, "org/members.html", org=org, members=people, roles=roles)

    @get("/api-keys")
    async def api_keys(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], org: FromPath[str]
    ) -> Response[Any]:
        shell = await shell_for(request, org)
        keys = await apikeys.list_keys(principal, org) if shell.can("apikey:write") else []
        grantable = sorted(shell.permissions & ASSIGNABLE)
        return await page(
            request,
            "org/api_keys.html",
            shell=shell,
            keys=keys,
            grantable=[(code, PERMISSIONS[code]) for code in grantable],
            created=None,
        )

    @post("/api-keys", status_code=200)
    async def create_api_key(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], org: FromPath[str]
    ) -> Response[Any]:
        """Create a key (``POST /orgs/{org}/api-keys``) and show its secret on this response only:
        it is never stored readable, so this page is the one chance to copy it."""
        fields = await form_fields(request)
        scopes = fields.get("scopes", [])
        body: dict[str, Any] = {
            "name": text(fields, "name"),
            "scopes": [scopes] if isinstance(scopes, str) else list(scopes),
        }
        days = text(fields, "expires_days")
        if days.isdigit() and int(days) > 0:
            body["expires_at"] = (utcnow() + dt.timedelta(days=min(int(days), 3650))).isoformat()
        created = await apikeys.create_key(principal, org, convert(body, ApiKeyCreate))
        shell = await shell_for(request, org)
        return await page(
            request,
            "org/api_keys.html",
            shell=shell,
            keys=await apikeys.list_keys(principal, org),
            grantable=[(code, PERMISSIONS[code]) for code in sorted(shell.permissions & ASSIGNABLE)],
            created=created,
        )

    @post("/api-keys/{key_id:uuid}/revoke", status_code=303)
    async def revoke_api_key(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        key_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await apikeys.revoke_key(principal, org, key_id)
        return redirect(
            f"/console/orgs/{org}/api-keys", "API key revoked: it stops working at once.", request
        )

    @get("/audit")
    async def audit(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        action: ActionQuery = None,
        cursor: CursorQuery = None,
    ) -> Response[Any]:
        entries = await audit_log.list_entries(
            principal, org, action=action or None, cursor=cursor, limit=PAGE_SIZE
        )
        return await page(
            request,
            "org/audit.html",
            org=org,
            entries=entries.items,
            next_cursor=entries.next_cursor,
            action=action or "",
        )

    @get("/analytics")
    async def analytics(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], org: FromPath[str]
    ) -> Response[Any]:
        """Success rate and durations over 7 and 30 days, and runs per day, across every pipeline
        (the same computation as ``GET /pipelines/{id}/stats``, over the organization's runs)."""
        rows = await reads.recent_executions(principal, org)
        now = utcnow()
        windows = {
            7: stats.window(rows, now - dt.timedelta(days=7)),
            30: stats.window(rows, now - dt.timedelta(days=30)),
        }
        per_day = charts.daily(rows, now.astimezone(dt.UTC).date(), reads.ANALYTICS_DAYS)
        pipelines = await reads.org_pipelines(principal, org)
        per_pipeline = []
        for item in pipelines:
            mine = [r for r in rows if r["pipeline"] == item.pipeline.id]
            per_pipeline.append((item, stats.window(mine, now - dt.timedelta(days=30))))
        return await page(
            request,
            "org/analytics.html",
            org=org,
            windows=windows,
            daily=charts.daily_chart(per_day),
            charts=charts,
            per_pipeline=per_pipeline,
        )
