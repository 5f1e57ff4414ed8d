"""HTTP routes for designs, versions, diff, resources and live events (thin: decode, call, return)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar import Response as HttpResponse
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT, HTTP_304_NOT_MODIFIED
from litestar.stores.base import Store

from app.accounts.authz import Principal
from app.designs import designs, events, versions
from app.designs.access import GENERATION_OPT
from app.designs.cache import BodyCache
from app.designs.events import DesignEvents
from app.designs.exports import DriftMarks
from app.designs.schemas import (
    DesignCreate,
    DesignPage,
    DesignRead,
    DesignStatus,
    DesignUpdate,
    DiffRead,
    ResourcePage,
    RestoreRequest,
    VersionConflict,
    VersionCreate,
    VersionPage,
    VersionRead,
    VersionSummary,
)
from app.designs.versions import CachedBody
from app.lib.openapi import problem_spec
from app.lib.pagination import DEFAULT_LIMIT, Cursor, Limit
from app.lib.schema import ProblemDetails

JSON = "application/json"

IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match", max_length=1024, description="An ETag from a previous read: 304 if unchanged"
    ),
]
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match", max_length=1024, description="Apply only if the design still has this ETag"
    ),
]
PROBLEM = "application/problem+json"
NOT_MODIFIED = {304: ResponseSpec(None, description="Not modified: the `If-None-Match` ETag is current")}
SAVE_RESPONSES = {
    200: ResponseSpec(
        VersionSummary, description="The canvas is identical to the current version: nothing written"
    ),
    409: ResponseSpec(VersionConflict, description="`base_version` is stale", media_type=PROBLEM),
    413: ResponseSpec(ProblemDetails, description="Body or canvas beyond the limits", media_type=PROBLEM),
    422: ResponseSpec(
        ProblemDetails,
        description="Malformed canvas; `errors[].field` names the node or edge",
        media_type=PROBLEM,
    ),
}


@dataclass(frozen=True, slots=True)
class DesignDeps:
    """What design services need from the application: the body cache, the event bus and, for
    diagrams, how to read a drift check's marks (a domain above designs provides it)."""

    cache: BodyCache
    events: DesignEvents
    channels: ChannelsPlugin
    drift_marks: DriftMarks | None = None


def make_design_deps(
    cache: Store, channels: ChannelsPlugin, drift_marks: DriftMarks | None = None
) -> DesignDeps:
    """Built once by the composition root (``app.main.create_app``)."""
    return DesignDeps(BodyCache(cache), DesignEvents(channels), channels, drift_marks)


def provide_design_deps(request: Request[Any, Any, Any], principal: NamedDependency[Principal]) -> DesignDeps:
    """The app's DesignDeps. It names ``principal`` (unused) so that Litestar resolves the two in
    sequence: two independent dependencies make it start an anyio task group on every request,
    about a tenth of the cost of a cached design read (measured with py-spy, bench/designs.py)."""
    deps: DesignDeps = request.app.state.design_deps
    return deps


def json_response(body: bytes) -> HttpResponse[Any]:
    """A response whose JSON body was encoded (and usually cached) already."""
    return HttpResponse(content=body, media_type=JSON)


def cached_response(result: CachedBody, status: int = HTTP_200_OK) -> HttpResponse[Any]:
    headers = {"ETag": result.etag, "Cache-Control": "private, no-cache"}
    if result.body is None:
        return HttpResponse(content=b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    return HttpResponse(content=result.body, status_code=status, media_type=JSON, headers=headers)


class DesignController(Controller):
    path = "/api/v1"
    tags = ["designs"]
    dependencies = {"deps": Provide(provide_design_deps, sync_to_thread=False)}
    opt = GENERATION_OPT  # design routes: the gate reads the design's generation tokens

    @get("/orgs/{org:str}/designs", summary="Designs of an organization")
    async def list_designs(
        self,
        principal: NamedDependency[Principal],
        org: FromPath[str],
        status: Annotated[DesignStatus | None, QueryParameter(description="Only this status")] = None,
        provider: Annotated[
            str | None, QueryParameter(max_length=32, description="Only this cloud provider")
        ] = None,
        q: Annotated[
            str | None, QueryParameter(max_length=200, description="Name contains (case-insensitive)")
        ] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> DesignPage:
        """Newest first, without canvases. Needs `design:read`."""
        return await designs.list_designs(
            principal, org, status=status, provider=provider, q=q, cursor=cursor, limit=limit
        )

    @post("/orgs/{org:str}/designs", status_code=HTTP_201_CREATED, summary="Create a design")
    async def create_design(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        org: FromPath[str],
        data: JSONBody[DesignCreate],
    ) -> HttpResponse[DesignRead]:
        """With a `canvas` the design starts at version 1. Names are unique per organization (409)."""
        return cached_response(
            await designs.create_design(principal, deps.cache, org, data), HTTP_201_CREATED
        )

    @get("/designs/{design_id:uuid}", summary="A design with its current canvas", responses=NOT_MODIFIED)
    async def get_design(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        design_id: FromPath[uuid.UUID],
        if_none_match: IfNoneMatch = None,
    ) -> HttpResponse[DesignRead]:
        """Carries an `ETag`; send it back as `If-None-Match` to get 304 while nothing changed."""
        return cached_response(await designs.read_design(principal, deps.cache, design_id, if_none_match))

    @patch("/designs/{design_id:uuid}", summary="Change a design's name, description, provider or status")
    async def update_design(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        design_id: FromPath[uuid.UUID],
        data: JSONBody[DesignUpdate],
        if_match: IfMatch = None,
    ) -> HttpResponse[DesignRead]:
        """With `If-Match: <ETag>` the change applies only if nobody changed the design since (else 412)."""
        result = await designs.update_design(principal, deps.cache, deps.events, design_id, data, if_match)
        return cached_response(result)

    @delete("/designs/{design_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Delete a design")
    async def delete_design(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        design_id: FromPath[uuid.UUID],
    ) -> None:
        """Soft delete (`design:write`): it disappears from the API and its name can be used again."""
        await designs.delete_design(principal, deps.cache, deps.events, design_id)

    @get("/designs/{design_id:uuid}/versions", summary="Versions of a design, newest first")
    async def list_versions(
        self,
        principal: NamedDependency[Principal],
        design_id: FromPath[uuid.UUID],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> VersionPage:
        return await versions.list_versions(principal, design_id, cursor, limit)

    @post(
        "/designs/{design_id:uuid}/versions",
        status_code=HTTP_201_CREATED,
        summary="Save the canvas as a new version",
        responses=SAVE_RESPONSES,
    )
    async def save_version(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        design_id: FromPath[uuid.UUID],
        data: JSONBody[VersionCreate],
    ) -> HttpResponse[VersionSummary]:
        """201 with the new version. 409 (`current_version` in the body) when `base_version` is not the
        current version: nothing is written. 200 with the current version when the canvas is identical
        to it. 422 names the malformed node or edge (`canvas.nodes[3].id`); 413 beyond the limits."""
        summary, created = await versions.save_version(principal, deps.cache, deps.events, design_id, data)
        return HttpResponse(summary, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @get(
        "/designs/{design_id:uuid}/versions/{number:int}",
        summary="One version with its canvas",
        responses=NOT_MODIFIED,
    )
    async def get_version(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        design_id: FromPath[uuid.UUID],
        number: FromPath[int],
        if_none_match: IfNoneMatch = None,
    ) -> HttpResponse[VersionRead]:
        """Versions are immutable; the `ETag` never changes."""
        return cached_response(
            await versions.read_version(principal, deps.cache, design_id, number, if_none_match)
        )

    @post(
        "/designs/{design_id:uuid}/versions/{number:int}/restore",
        status_code=HTTP_201_CREATED,
        summary="Make an old version current again (as a new version)",
        responses={k: v for k, v in SAVE_RESPONSES.items() if k in (200, 409)},
    )
    async def restore_version(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        design_id: FromPath[uuid.UUID],
        number: FromPath[int],
        data: JSONBody[RestoreRequest | None] = None,
    ) -> HttpResponse[VersionSummary]:
        """201 with the new version (its `restored_from` is `number`); 200 if that canvas is already
        the current one."""
        summary, created = await versions.restore_version(
            principal, deps.cache, deps.events, design_id, number, data
        )
        return HttpResponse(summary, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @get(
        "/designs/{design_id:uuid}/diff",
        summary="What changes between two versions",
        responses={422: problem_spec("`from` or `to` is not a version of the design (`errors` names each)")},
    )
    async def diff(
        self,
        principal: NamedDependency[Principal],
        design_id: FromPath[uuid.UUID],
        from_: Annotated[
            int, QueryParameter(name="from", ge=0, description="Older version (0: empty canvas)")
        ],
        to: Annotated[int, QueryParameter(ge=0, description="Newer version")],
    ) -> DiffRead:
        """Nodes added, removed and changed (type, name, parent, position and each property with its old
        and new value, reported separately) and edges added and removed."""
        return await versions.diff_versions(principal, design_id, from_, to)

    @get("/orgs/{org:str}/resources", summary="Resources (canvas nodes) across the organization's designs")
    async def list_resources(
        self,
        principal: NamedDependency[Principal],
        org: FromPath[str],
        type_: Annotated[str | None, QueryParameter(name="type", max_length=128)] = None,
        provider: Annotated[str | None, QueryParameter(max_length=64)] = None,
        design_id: Annotated[uuid.UUID | None, QueryParameter()] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> ResourcePage:
        """One row per node of each design's current version, e.g. `?type=aws_s3_bucket`."""
        return await designs.list_resources(
            principal, org, type_=type_, provider=provider, design_id=design_id, cursor=cursor, limit=limit
        )

    @get("/designs/{design_id:uuid}/events", summary="Live events of a design (server-sent events)")
    async def stream_events(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        design_id: FromPath[uuid.UUID],
    ) -> ServerSentEvent:
        """`text/event-stream`: `version.created`, `design.updated`, `design.deleted`, `comment.added`,
        `comment.updated`, `comment.resolved`, `comment.deleted`, `share.changed`; each `data` is a
        DesignEvent JSON object. The stream ends when the caller loses access."""
        return ServerSentEvent(
            await events.subscribe(principal, deps.channels, design_id),
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
