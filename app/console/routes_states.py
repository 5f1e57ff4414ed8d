"""State pages: the organization's Terraform states with their locks, and one state's versions,
lock (force-unlock for ``state:admin``), outputs with sensitive values masked, and resources."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from app.console.render import page, redirect
from app.lib.principal import Principal
from app.states import locks, service

CursorQuery = Annotated[str | None, QueryParameter(max_length=512)]
PAGE_SIZE = 50


class StatePages(Controller):
    path = "/orgs/{org:str}/states"

    @get("/")
    async def index(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        cursor: CursorQuery = None,
    ) -> Response[Any]:
        result = await service.list_states(principal, org, cursor=cursor, limit=PAGE_SIZE)
        return await page(
            request, "states/list.html", org=org, states=result.items, next_cursor=result.next_cursor
        )

    @get("/{name:str}")
    async def show(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        name: FromPath[str],
        cursor: CursorQuery = None,
    ) -> Response[Any]:
        state = await service.get_state(principal, org, name)
        history = await service.list_versions(principal, org, name, cursor=cursor, limit=PAGE_SIZE)
        outputs = await service.outputs(principal, org, name)
        resources = await service.resources(principal, org, name)
        return await page(
            request,
            "states/show.html",
            org=org,
            state=state,
            versions=history.items,
            next_cursor=history.next_cursor,
            outputs=outputs.outputs,
            resources=resources.resources,
        )

    @post("/{name:str}/unlock", status_code=303)
    async def force_unlock(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        name: FromPath[str],
    ) -> Response[Any]:
        """``DELETE /orgs/{org}/states/{state}/lock``: remove whoever's lock (``state:admin``)."""
        released = await locks.force_unlock(principal, org, name)
        message = (
            f"Lock of {released.who or 'unknown holder'} removed."
            if released
            else "The state was not locked."
        )
        return redirect(f"/console/orgs/{org}/states/{name}", message, request)
