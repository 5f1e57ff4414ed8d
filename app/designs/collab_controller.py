"""HTTP routes for templates, shares and comments (thin: decode, call, return)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar import Response as HttpResponse
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from app.accounts.authz import Principal
from app.designs import comments, shares, templates
from app.designs.access import GENERATION_OPT
from app.designs.controller import DesignDeps, cached_response, json_response, provide_design_deps
from app.designs.schemas import (
    CommentCreate,
    CommentPage,
    CommentRead,
    CommentUpdate,
    DesignRead,
    ShareCreate,
    SharedDesignPage,
    ShareRead,
    TemplateInstantiate,
    TemplatePage,
    TemplatePublish,
    TemplateRead,
    TemplateSummary,
)
from app.lib.pagination import DEFAULT_LIMIT, Cursor, Limit


class TemplateController(Controller):
    path = "/api/v1"
    tags = ["templates"]
    dependencies = {"deps": Provide(provide_design_deps, sync_to_thread=False)}

    @get("/templates", summary="Templates: the public catalogue and your organizations' own")
    async def list_templates(
        self,
        principal: NamedDependency[Principal],
        provider: Annotated[str | None, QueryParameter(max_length=32)] = None,
        tag: Annotated[str | None, QueryParameter(max_length=40)] = None,
        organization: Annotated[
            str | None, QueryParameter(max_length=64, description="Publisher's slug")
        ] = None,
        q: Annotated[str | None, QueryParameter(max_length=200, description="Name contains")] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> TemplatePage:
        """By name, without canvases."""
        return await templates.list_templates(
            principal, provider=provider, tag=tag, organization=organization, q=q, cursor=cursor, limit=limit
        )

    @get("/templates/{template_ref:str}", summary="One template with its canvas")
    async def get_template(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        template_ref: FromPath[str],
    ) -> HttpResponse[TemplateRead]:
        """`template_ref` is the template's id or, for built-in templates, its slug (`aws-three-tier`)."""
        body = await templates.read_template(principal, deps.cache, template_ref)
        return json_response(body)

    @post(
        "/orgs/{org:str}/templates",
        status_code=HTTP_201_CREATED,
        summary="Publish a design version as a template",
    )
    async def publish_template(
        self, principal: NamedDependency[Principal], org: FromPath[str], data: JSONBody[TemplatePublish]
    ) -> TemplateSummary:
        """Needs `design:write`; `public: true` (visible to everyone) also needs `org:admin`."""
        return await templates.publish_template(principal, org, data)

    @delete(
        "/templates/{template_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete an organization template",
    )
    async def delete_template(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        template_id: FromPath[uuid.UUID],
    ) -> None:
        await templates.delete_template(principal, deps.cache, template_id)

    @post(
        "/templates/{template_ref:str}/instantiate",
        status_code=HTTP_201_CREATED,
        summary="Create a design from a template",
    )
    async def instantiate(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        template_ref: FromPath[str],
        data: JSONBody[TemplateInstantiate],
    ) -> HttpResponse[DesignRead]:
        """The new design's version 1 is the template's canvas (`design:write` in `organization`)."""
        return cached_response(
            await templates.instantiate(principal, deps.cache, template_ref, data), HTTP_201_CREATED
        )


class CollaborationController(Controller):
    path = "/api/v1"
    tags = ["collaboration"]
    dependencies = {"deps": Provide(provide_design_deps, sync_to_thread=False)}
    opt = GENERATION_OPT  # design routes: the gate reads the design's generation tokens

    @get("/designs/{design_id:uuid}/shares", summary="Who the design is shared with")
    async def list_shares(
        self, principal: NamedDependency[Principal], design_id: FromPath[uuid.UUID]
    ) -> list[ShareRead]:
        return await shares.list_shares(principal, design_id)

    @post(
        "/designs/{design_id:uuid}/shares", status_code=HTTP_201_CREATED, summary="Share a design with a user"
    )
    async def share(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        design_id: FromPath[uuid.UUID],
        data: JSONBody[ShareCreate],
    ) -> HttpResponse[ShareRead]:
        """`view`, `comment` or `edit` for any registered user (by email), member or not. The user then
        reaches this design, its versions, diff, comments and events, and nothing else of the
        organization. 201 for a new share, 200 when an existing share's permission changed."""
        share, created = await shares.share_design(principal, deps.events, design_id, data)
        return HttpResponse(share, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @delete(
        "/designs/{design_id:uuid}/shares/{share_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Revoke a share (effective at once)",
    )
    async def revoke(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        design_id: FromPath[uuid.UUID],
        share_id: FromPath[uuid.UUID],
    ) -> None:
        await shares.revoke_share(principal, deps.events, design_id, share_id)

    @get("/shared-designs", summary="Designs shared with the caller")
    async def shared_with_me(
        self, principal: NamedDependency[Principal], cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
    ) -> SharedDesignPage:
        return await shares.shared_with_me(principal, cursor, limit)

    @get("/designs/{design_id:uuid}/comments", summary="Comment threads of a design")
    async def list_comments(
        self,
        principal: NamedDependency[Principal],
        design_id: FromPath[uuid.UUID],
        node: Annotated[
            str | None, QueryParameter(max_length=128, description="Threads anchored to this node")
        ] = None,
        resolved: Annotated[bool | None, QueryParameter(description="Only resolved / open threads")] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> CommentPage:
        """Oldest thread first; each thread carries its replies."""
        return await comments.list_comments(
            principal, design_id, node_id=node, resolved=resolved, cursor=cursor, limit=limit
        )

    @post("/designs/{design_id:uuid}/comments", status_code=HTTP_201_CREATED, summary="Comment or reply")
    async def add_comment(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        design_id: FromPath[uuid.UUID],
        data: JSONBody[CommentCreate],
    ) -> CommentRead:
        """Members (and API keys) with `design:read` and `design:comment` (or `design:write`), and
        users with a `comment` or `edit` share, may comment. `node_id` must be a node of `version`
        (default: the current version)."""
        return await comments.add_comment(principal, deps.events, design_id, data)

    @patch("/comments/{comment_id:uuid}", summary="Edit a comment, or resolve / reopen a thread")
    async def update_comment(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        comment_id: FromPath[uuid.UUID],
        data: JSONBody[CommentUpdate],
    ) -> CommentRead:
        return await comments.update_comment(principal, deps.events, comment_id, data)

    @delete("/comments/{comment_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Delete a comment")
    async def delete_comment(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        comment_id: FromPath[uuid.UUID],
    ) -> None:
        """Authors delete their own; organization admins delete any."""
        await comments.delete_comment(principal, deps.events, comment_id)
