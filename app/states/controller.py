"""REST views of Terraform states under ``/api/v1/orgs/{org}/states`` (thin: decode, call, return)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter
from litestar.response import Response
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from app.accounts.authz import Principal
from app.lib.pagination import DEFAULT_LIMIT, Cursor, Limit
from app.states import locks, service
from app.states.schemas import (
    ForceUnlockRead,
    OutputsRead,
    ResourcesRead,
    StatePage,
    StateRead,
    StateVersionPage,
    StateVersionRead,
)

Serial = FromPath[int]
LockedFilter = Annotated[
    bool | None, QueryParameter(description="Only locked (true) or unlocked (false) states")
]
ShowSensitive = Annotated[
    bool, QueryParameter(description="Reveal sensitive output values (needs `state:admin`; audited)")
]


class StatesController(Controller):
    path = "/api/v1/orgs/{org:str}/states"
    tags = ["states"]

    @get("/", summary="States of an organization")
    async def list_states(
        self,
        principal: NamedDependency[Principal],
        org: FromPath[str],
        locked: LockedFilter = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> StatePage:
        """Sorted by name: serial, size, resource count, lock holder and age, last update."""
        return await service.list_states(principal, org, locked=locked, cursor=cursor, limit=limit)

    @get("/{name:str}", summary="One state")
    async def get_state(
        self, principal: NamedDependency[Principal], org: FromPath[str], name: FromPath[str]
    ) -> StateRead:
        return await service.get_state(principal, org, name)

    @delete("/{name:str}", status_code=HTTP_204_NO_CONTENT, summary="Delete a state and its versions")
    async def delete_state(
        self, principal: NamedDependency[Principal], org: FromPath[str], name: FromPath[str]
    ) -> None:
        """Needs `state:admin`; refused (409) while the state is locked."""
        await service.delete_state(principal, org, name)

    @get("/{name:str}/versions", summary="Versions of a state, newest first")
    async def list_versions(
        self,
        principal: NamedDependency[Principal],
        org: FromPath[str],
        name: FromPath[str],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> StateVersionPage:
        return await service.list_versions(principal, org, name, cursor=cursor, limit=limit)

    @get(
        "/{name:str}/versions/{serial:int}",
        summary="Download one version (decrypted state JSON)",
        responses={
            200: ResponseSpec(
                dict[str, Any],
                description="The state document exactly as Terraform wrote it (state format 4)",
                generate_examples=False,
            )
        },
    )
    async def download_version(
        self, principal: NamedDependency[Principal], org: FromPath[str], name: FromPath[str], serial: Serial
    ) -> Response[bytes]:
        """Needs `state:read`. Metadata travels in `X-State-*` headers."""
        data, meta = await service.download_version(principal, org, name, serial)
        return Response(
            content=data,
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="{name}-{serial}.tfstate"',
                "X-State-Serial": str(meta.serial),
                "X-State-Lineage": meta.lineage,
                "X-State-SHA256": meta.sha256,
            },
        )

    @post(
        "/{name:str}/versions/{serial:int}/restore",
        status_code=HTTP_201_CREATED,
        summary="Restore a version as the new current version",
    )
    async def restore_version(
        self, principal: NamedDependency[Principal], org: FromPath[str], name: FromPath[str], serial: Serial
    ) -> StateVersionRead:
        """Needs `state:admin`. Writes the old content as a new version (serial = current + 1, current
        lineage). Refused with 423 while the state is locked."""
        return await service.restore_version(principal, org, name, serial)

    @get("/{name:str}/outputs", summary="Root outputs of the current version")
    async def outputs(
        self,
        principal: NamedDependency[Principal],
        org: FromPath[str],
        name: FromPath[str],
        show_sensitive: ShowSensitive = False,
    ) -> OutputsRead:
        """Sensitive values are null and `masked` unless `show_sensitive=true` (needs `state:admin`)."""
        return await service.outputs(principal, org, name, show_sensitive=show_sensitive)

    @get("/{name:str}/resources", summary="Resources of the current version")
    async def resources(
        self, principal: NamedDependency[Principal], org: FromPath[str], name: FromPath[str]
    ) -> ResourcesRead:
        return await service.resources(principal, org, name)

    @delete("/{name:str}/lock", status_code=200, summary="Force-unlock a state")
    async def force_unlock(
        self, principal: NamedDependency[Principal], org: FromPath[str], name: FromPath[str]
    ) -> ForceUnlockRead:
        """Needs `state:admin`; audited. Returns the lock that was removed (null if none)."""
        return ForceUnlockRead(released=await locks.force_unlock(principal, org, name))
