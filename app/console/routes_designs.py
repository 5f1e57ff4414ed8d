"""Design pages: the list with search, a design with its diagram, versions and comments per node,
the readable diff between two versions, and creating a pipeline for an environment."""

from __future__ import annotations

import urllib.parse
import uuid
from collections import OrderedDict
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from app.console import reads
from app.console.forms import checkbox, convert, form_fields, text
from app.console.render import page, redirect, same_org, shell_for
from app.designs import comments, designs, exports, versions
from app.designs.controller import DesignDeps
from app.designs.schemas import CommentCreate, CommentUpdate, DesignRead, DesignStatus
from app.lib.errors import FieldError, ValidationFailed
from app.lib.principal import Principal
from app.pipelines import pipelines
from app.pipelines.schemas import PipelineCreate
from app.terraform.canvas import Canvas

Search = Annotated[str | None, QueryParameter(max_length=200)]
StatusQuery = Annotated[DesignStatus | None, QueryParameter()]
CursorQuery = Annotated[str | None, QueryParameter(max_length=512)]
VersionQuery = Annotated[int | None, QueryParameter(ge=1, le=2_000_000_000)]
NodeQuery = Annotated[str | None, QueryParameter(max_length=128)]
DiffFrom = Annotated[int | None, QueryParameter(name="from", ge=0, le=2_000_000_000)]
DiffTo = Annotated[int | None, QueryParameter(name="to", ge=0, le=2_000_000_000)]
PAGE_SIZE = 25
COMMENT_THREADS = 200


class DiagramCache:
    """Rendered diagrams of immutable versions, per process, bounded in bytes. Only consulted after
    the caller's access to the design has been checked (``designs.read_design``)."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._items: OrderedDict[tuple[uuid.UUID, int], bytes] = OrderedDict()
        self._bytes = 0
        self._max = max_bytes

    def get(self, key: tuple[uuid.UUID, int]) -> bytes | None:
        body = self._items.get(key)
        if body is not None:
            self._items.move_to_end(key)
        return body

    def put(self, key: tuple[uuid.UUID, int], body: bytes) -> None:
        if key in self._items or len(body) > self._max // 4:
            return
        self._items[key] = body
        self._bytes += len(body)
        while self._bytes > self._max:
            _, old = self._items.popitem(last=False)
            self._bytes -= len(old)


DIAGRAMS = DiagramCache()


def _deps(request: Request[Any, Any, Any]) -> DesignDeps:
    deps: DesignDeps = request.app.state.design_deps
    return deps


async def _design(request: Request[Any, Any, Any], principal: Principal, design_id: uuid.UUID) -> DesignRead:
    """The design with its current canvas (the API's read: access checked, body cached)."""
    body = await designs.read_design(principal, _deps(request).cache, design_id)
    assert body.body is not None
    return msgspec.json.decode(body.body, type=DesignRead)


async def diagram_svg(principal: Principal, design_id: uuid.UUID, number: int) -> str:
    """The SVG of a version (``exports.diagram``), cached since versions never change."""
    if number < 1:
        return ""
    cached = DIAGRAMS.get((design_id, number))
    if cached is None:
        rendered = await exports.diagram(principal, design_id, number)
        assert rendered.body is not None
        cached = rendered.body
        DIAGRAMS.put((design_id, number), cached)
    return cached.decode()


class DesignPages(Controller):
    path = "/orgs/{org:str}/designs"

    @get("/")
    async def index(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        q: Search = None,
        status: StatusQuery = None,
        cursor: CursorQuery = None,
    ) -> Response[Any]:
        result = await designs.list_designs(
            principal, org, status=status, provider=None, q=q, cursor=cursor, limit=PAGE_SIZE
        )
        fragment = request.headers.get("hx-target") == "design-rows"
        return await page(
            request,
            "designs/_rows.html" if fragment else "designs/list.html",
            org=org,
            designs=result.items,
            next_cursor=result.next_cursor,
            q=q or "",
            status=status or "",
        )

    @get("/{design_id:uuid}")
    async def show(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        design_id: FromPath[uuid.UUID],
        version: VersionQuery = None,
        node: NodeQuery = None,
    ) -> Response[Any]:
        shell = await shell_for(request, org)
        design = await _design(request, principal, design_id)
        same_org(shell, design.organization, "design")
        number = version or design.current_version
        canvas: Canvas = design.canvas
        if number != design.current_version:
            number, canvas = await versions.load_canvas(principal, design_id, number)
        threads = await comments.list_comments(
            principal, design_id, node_id=node, resolved=None, cursor=None, limit=COMMENT_THREADS
        )
        history = await versions.list_versions(principal, design_id, None, PAGE_SIZE)
        environments = (
            await reads.org_pipelines(principal, org, design_id) if shell.can("pipeline:read") else []
        )
        return await page(
            request,
            "designs/show.html",
            shell=shell,
            design=design,
            number=number,
            canvas=canvas,
            names={n.id: f"{n.type}.{n.name}" for n in canvas.nodes},
            svg=await diagram_svg(principal, design_id, number),
            threads=threads.items,
            node=node,
            versions=history.items,
            environments=environments,
        )

    @get("/{design_id:uuid}/comments")
    async def comments_panel(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        design_id: FromPath[uuid.UUID],
        node: NodeQuery = None,
    ) -> Response[Any]:
        """The comments of one node (or all), as the design page's panel (htmx) or a page."""
        shell = await shell_for(request, org)
        design = await _design(request, principal, design_id)
        same_org(shell, design.organization, "design")
        threads = await comments.list_comments(
            principal, design_id, node_id=node, resolved=None, cursor=None, limit=COMMENT_THREADS
        )
        template = "designs/_comments.html" if request.headers.get("hx-request") else "designs/comments.html"
        return await page(
            request,
            template,
            shell=shell,
            design=design,
            threads=threads.items,
            node=node,
            names={n.id: f"{n.type}.{n.name}" for n in design.canvas.nodes},
        )

    @post("/{design_id:uuid}/comments", status_code=303)
    async def add_comment(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        design_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        fields = await form_fields(request)
        body = {"body": fields.get("body", "")}
        for key in ("node_id", "parent_id"):
            if text(fields, key):
                body[key] = text(fields, key)
        data = convert(body, CommentCreate)
        await comments.add_comment(principal, _deps(request).events, design_id, data)
        back = f"/console/orgs/{org}/designs/{design_id}"
        if data.node_id:
            back += "?" + urllib.parse.urlencode({"node": data.node_id})
        return redirect(back + "#comments", "Comment added.", request)

    @post("/{design_id:uuid}/comments/{comment_id:uuid}/resolve", status_code=303)
    async def resolve_comment(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        design_id: FromPath[uuid.UUID],
        comment_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        fields = await form_fields(request)
        resolved = checkbox(fields, "resolved")
        await comments.update_comment(
            principal, _deps(request).events, comment_id, CommentUpdate(resolved=resolved)
        )
        return redirect(
            f"/console/orgs/{org}/designs/{design_id}#comments",
            "Thread resolved." if resolved else "Thread reopened.",
            request,
        )

    @get("/{design_id:uuid}/diff")
    async def diff(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        design_id: FromPath[uuid.UUID],
        from_: DiffFrom = None,
        to: DiffTo = None,
    ) -> Response[Any]:
        """What changed between two versions, node by node and property by property."""
        shell = await shell_for(request, org)
        design = await _design(request, principal, design_id)
        same_org(shell, design.organization, "design")
        newer = design.current_version if to is None else to
        older = max(0, newer - 1) if from_ is None else from_
        result = await versions.diff_versions(principal, design_id, older, newer)
        names: dict[str, str] = {}
        for number in {older, newer} - {0}:
            _, canvas = await versions.load_canvas(principal, design_id, number)
            names |= {n.id: f"{n.type}.{n.name}" for n in canvas.nodes}
        return await page(
            request,
            "designs/diff.html",
            shell=shell,
            design=design,
            diff=result,
            names=names,
            numbers=list(range(design.current_version, -1, -1)),
        )

    @post("/{design_id:uuid}/pipelines", status_code=303)
    async def create_pipeline(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        design_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """A pipeline for this design and an environment (``POST /designs/{id}/pipelines``)."""
        fields = await form_fields(request)
        mode = text(fields, "mode") or "confirm"
        if mode not in ("confirm", "approval", "auto"):
            raise ValidationFailed("invalid value for mode", errors=[FieldError("mode", "unknown mode")])
        data = convert(
            {
                "environment": text(fields, "environment"),
                "require_approval": mode == "approval",
                "auto_apply": mode == "auto",
            },
            PipelineCreate,
        )
        created = await pipelines.create_pipeline(principal, design_id, data)
        return redirect(
            f"/console/orgs/{org}/pipelines/{created.id}",
            f"Pipeline for {created.environment} created. Start a plan to see what it would change.",
            request,
        )
