"""``/api/v1/sandbox/resources``: the sandbox cloud's console over HTTP (simulate drift by hand).

Mounted by ``app.main`` behind authentication, and only when ``BOARD3_SANDBOX`` is on. The store
comes from the ``sandbox_store`` dependency (``provide_sandbox_store``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated

from litestar import Controller, delete, get, patch
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from app.config import get_settings
from app.lib.errors import BadRequest, FieldError
from app.lib.pagination import DEFAULT_LIMIT, Cursor, Limit
from app.sandbox.schemas import SandboxResourcePage, SandboxResourcePatch, SandboxResourceRead
from app.sandbox.service import SandboxConsole
from app.sandbox.store import SandboxStore, store_path_from_env


@functools.lru_cache(maxsize=4)
def _store_at(path: Path) -> SandboxStore:
    return SandboxStore(path)  # thread-safe, connects on first use


async def provide_sandbox_store() -> SandboxStore:
    """The store Terraform's sandbox provider uses by default (``BOARD3_SANDBOX_STORE`` or data dir).

    One per process, kept open: a connection per request cost a connect, the WAL pragmas and, when it
    was the last connection, a checkpoint on close, for every request.
    """
    return _store_at(store_path_from_env(os.environ, get_settings().data_dir))


def _version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise BadRequest(
            'If-Match must be a resource version such as "3"',
            errors=[FieldError("header.If-Match", "not a version number")],
        )
    return int(raw)


class SandboxController(Controller):
    path = "/api/v1/sandbox/resources"
    tags = ["sandbox"]

    @get(
        "/",
        sync_to_thread=True,
        summary="List sandbox resources",
        description="Everything the sandbox cloud holds, oldest first, optionally of one type.",
    )
    def list_resources(
        self,
        sandbox_store: NamedDependency[SandboxStore],
        type_name: Annotated[
            str | None,
            QueryParameter(name="type", max_length=64, description="Only this type, e.g. sandbox_instance."),
        ] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> SandboxResourcePage:
        return SandboxConsole(sandbox_store).page(type_name, cursor, limit)

    @get("/{resource_id:str}", sync_to_thread=True, summary="Show a sandbox resource")
    def get_resource(
        self, sandbox_store: NamedDependency[SandboxStore], resource_id: FromPath[str]
    ) -> SandboxResourceRead:
        return SandboxResourceRead.from_record(SandboxConsole(sandbox_store).get(resource_id))

    @patch(
        "/{resource_id:str}",
        sync_to_thread=True,
        summary="Change a sandbox resource out of band",
        description=(
            "Merges `attributes` into the stored ones, as if someone edited the resource in a cloud "
            "console: the next `terraform plan` reports it as drift. Unknown attribute names and values "
            "of the wrong type are refused (422). With `If-Match: <version>`, a concurrent edit is a 409."
        ),
    )
    def patch_resource(
        self,
        sandbox_store: NamedDependency[SandboxStore],
        resource_id: FromPath[str],
        data: JSONBody[SandboxResourcePatch],
        if_match: Annotated[
            str | None, HeaderParameter(name="If-Match", description="The version the edit is based on.")
        ] = None,
    ) -> SandboxResourceRead:
        record = SandboxConsole(sandbox_store).patch(
            resource_id, data.attributes, expected_version=_version(if_match)
        )
        return SandboxResourceRead.from_record(record)

    @delete(
        "/{resource_id:str}",
        sync_to_thread=True,
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a sandbox resource out of band",
        description="Terraform will report the resource as deleted outside Terraform (drift).",
    )
    def delete_resource(
        self, sandbox_store: NamedDependency[SandboxStore], resource_id: FromPath[str]
    ) -> None:
        SandboxConsole(sandbox_store).delete(resource_id)
