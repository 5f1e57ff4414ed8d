"""Request and response schemas for designs, versions, diff, templates, resources, shares, comments."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from app.lib.schema import ProblemDetails, Request, Response
from app.terraform.canvas import Canvas, Edge, Position

DesignStatus = Literal["draft", "active", "archived"]
SharePermission = Literal["view", "comment", "edit"]

DesignName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["payments-platform"])]
Description = Annotated[
    str, msgspec.Meta(max_length=10_000, examples=["Three-tier web application in eu-west-1"])
]
CloudProvider = Annotated[
    str,
    msgspec.Meta(
        max_length=32,
        pattern=r"^[a-z0-9_-]*$",
        description="Main provider of the design (`aws`, `google`, `azurerm`, `sandbox`, ...); free-form.",
        examples=["aws"],
    ),
]
VersionMessage = Annotated[str, msgspec.Meta(max_length=2000, examples=["Add a read replica"])]
VersionNumber = Annotated[int, msgspec.Meta(ge=0, le=2_000_000_000, examples=[3])]
Slug = Annotated[
    str,
    msgspec.Meta(
        min_length=2,
        max_length=100,
        pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
        examples=["aws-three-tier"],
    ),
]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=40, examples=["networking"])]
OrgSlug = Annotated[str, msgspec.Meta(min_length=2, max_length=64, examples=["analytical-engines"])]


# --- designs ---------------------------------------------------------------------------------


class DesignCreate(Request):
    """A new design. With ``canvas`` it starts at version 1, otherwise at version 0 (empty)."""

    name: DesignName
    description: Description = ""
    cloud_provider: CloudProvider = ""
    status: DesignStatus = "draft"
    canvas: Canvas | None = None
    message: VersionMessage = ""
    """Message of version 1 when ``canvas`` is given."""


class DesignUpdate(Request):
    """Metadata changes; omitted fields stay as they are. The canvas changes through versions."""

    name: DesignName | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    cloud_provider: CloudProvider | msgspec.UnsetType = msgspec.UNSET
    status: DesignStatus | msgspec.UnsetType = msgspec.UNSET


class DesignSummary(Response):
    """A design without its canvas (lists)."""

    id: uuid.UUID
    organization: str
    organization_id: uuid.UUID
    name: str
    description: str
    cloud_provider: str
    status: DesignStatus
    template_id: uuid.UUID | None
    created_by: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime
    current_version: int
    content_hash: str
    """sha256 of the current version's canonical canvas (empty before version 1)."""


class DriftGlance(Response):
    """An environment's drift at a glance: its latest drift check, and what the latest check that
    saw the infrastructure found."""

    check_id: uuid.UUID
    status: Literal["no_drift", "drifted", "errored", "canceled", "skipped"]
    """The latest finished check's status (`errored`: the schedule goes on; `reason` says why)."""
    checked_at: dt.datetime
    reason: str | None = None
    drifted: int | None = None
    """Resources changed or deleted outside Terraform at the latest check with a result (null: no
    check has seen the infrastructure yet)."""
    result_check_id: uuid.UUID | None = None
    """That check (the same as `check_id` unless the latest one was skipped, errored or canceled)."""


class EnvironmentLink(Response):
    """An environment a pipeline applies the design to, and what it last applied there."""

    environment: str
    pipeline_id: uuid.UUID
    state: str
    """The Terraform state the pipeline owns."""
    last_applied_version: int | None = None
    last_applied_at: dt.datetime | None = None
    drift: DriftGlance | None = None


class DesignRead(DesignSummary):
    """A design with the canvas of its current version (an empty canvas before version 1)."""

    canvas: Canvas
    environments: list[EnvironmentLink]


class DesignBody(DesignSummary):
    """Wire form of ``DesignRead``: the stored canvas bytes are embedded without re-parsing."""

    canvas: msgspec.Raw
    environments: list[EnvironmentLink]


class DesignPage(Response):
    items: list[DesignSummary]
    next_cursor: str | None = None


# --- versions ------------------------------------------------------------------------------------


class VersionCreate(Request):
    """Save a canvas as a new version on top of ``base_version`` (the version the client edited)."""

    canvas: Canvas
    base_version: VersionNumber
    """The design's current version as the client last saw it; 409 if another save came first."""
    message: VersionMessage = ""


class RestoreRequest(Request):
    """Restore an old version: a new version is created with its canvas."""

    message: VersionMessage | None = None
    base_version: VersionNumber | None = None
    """When given, 409 unless it is still the current version."""


class VersionSummary(Response):
    design_id: uuid.UUID
    number: int
    message: str
    author_id: uuid.UUID | None
    author: str
    created_at: dt.datetime
    content_hash: str
    node_count: int
    edge_count: int
    size_bytes: int
    restored_from: int | None
    """The version this one restored, if it was made by a restore."""


class VersionRead(VersionSummary):
    canvas: Canvas


class VersionBody(VersionSummary):
    canvas: msgspec.Raw


class VersionPage(Response):
    items: list[VersionSummary]
    next_cursor: str | None = None


# --- diff --------------------------------------------------------------------------------------------


ChangeKind = Literal["added", "removed", "changed"]


class ValueChange(Response):
    """A node attribute (type, name, parent, position) before and after."""

    old: Any
    new: Any


class PropertyChange(Response):
    """One top-level property of a node: ``old`` is absent when added, ``new`` when removed."""

    key: str
    change: ChangeKind
    old: Any | msgspec.UnsetType = msgspec.UNSET
    new: Any | msgspec.UnsetType = msgspec.UNSET


class NodeSnapshot(Response):
    id: str
    type: str
    name: str
    properties: dict[str, Any]
    position: Position | None = None
    parent: str | None = None


class NodeChange(Response, omit_defaults=True):
    """A node present in both versions whose content differs. ``type``, ``name``, ``parent`` and
    ``position`` appear only when they changed; ``properties`` lists the changed properties."""

    id: str
    properties: list[PropertyChange]
    type: ValueChange | None = None
    name: ValueChange | None = None
    parent: ValueChange | None = None
    position: ValueChange | None = None


class DiffSummary(Response):
    nodes_added: int
    nodes_removed: int
    nodes_changed: int
    edges_added: int
    edges_removed: int


class CanvasDiff(Response):
    """What changes in the architecture from one canvas to another (pure data)."""

    nodes_added: list[NodeSnapshot]
    nodes_removed: list[NodeSnapshot]
    nodes_changed: list[NodeChange]
    edges_added: list[Edge]
    edges_removed: list[Edge]

    @property
    def empty(self) -> bool:
        return not (
            self.nodes_added
            or self.nodes_removed
            or self.nodes_changed
            or self.edges_added
            or self.edges_removed
        )


class DiffRead(CanvasDiff):
    design_id: uuid.UUID
    from_version: int
    to_version: int
    summary: DiffSummary


# --- resources --------------------------------------------------------------------------------------


class ResourceRead(Response):
    design_id: uuid.UUID
    design_name: str
    node_id: str
    type: str
    provider: str
    name: str
    properties: dict[str, Any]


class ResourcePage(Response):
    items: list[ResourceRead]
    next_cursor: str | None = None


# --- templates -----------------------------------------------------------------------------------


class TemplateSummary(Response):
    id: uuid.UUID
    slug: str
    name: str
    description: str
    cloud_provider: str
    tags: list[str]
    public: bool
    organization: str | None
    """Slug of the publishing organization; null for the built-in catalogue."""
    node_count: int
    created_at: dt.datetime
    updated_at: dt.datetime


class TemplateRead(TemplateSummary):
    canvas: Canvas


class TemplateBody(TemplateSummary):
    canvas: msgspec.Raw


class TemplatePage(Response):
    items: list[TemplateSummary]
    next_cursor: str | None = None


class TemplatePublish(Request):
    """Publish a design version as a template of the organization (``public``: visible to everyone)."""

    design_id: uuid.UUID
    name: DesignName
    version: VersionNumber | None = None
    """Defaults to the design's current version."""
    slug: Slug | None = None
    description: Description = ""
    tags: Annotated[list[Tag], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=list)
    public: bool = False


class TemplateInstantiate(Request):
    """Create a design in ``organization`` whose version 1 is the template's canvas."""

    organization: OrgSlug
    name: DesignName
    description: Description | None = None


class TemplateSeed(msgspec.Struct, forbid_unknown_fields=True):
    """A template document in ``seeds/templates/*.json``."""

    slug: Slug
    name: DesignName
    canvas: Canvas
    description: Description = ""
    cloud_provider: CloudProvider = ""
    tags: list[Tag] = msgspec.field(default_factory=list)


# --- shares ------------------------------------------------------------------------------------------


class ShareCreate(Request):
    """Share the design with a registered user (an existing share's permission is replaced)."""

    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320, examples=["grace@example.com"])]
    permission: SharePermission = "view"


class ShareRead(Response):
    id: uuid.UUID
    design_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str
    permission: SharePermission
    created_by: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime


class SharedDesign(Response):
    design: DesignSummary
    permission: SharePermission
    shared_at: dt.datetime


class SharedDesignPage(Response):
    items: list[SharedDesign]
    next_cursor: str | None = None


# --- comments -------------------------------------------------------------------------------------


CommentText = Annotated[str, msgspec.Meta(min_length=1, max_length=10_000, examples=["Why public?"])]


class CommentCreate(Request):
    """A comment, a reply (``parent_id``), optionally anchored to a node of a version."""

    body: CommentText
    node_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    version: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """The version the anchor refers to; defaults to the current version."""
    parent_id: uuid.UUID | None = None


class CommentUpdate(Request):
    """Edit the text (author only) and/or resolve or reopen a thread."""

    body: CommentText | msgspec.UnsetType = msgspec.UNSET
    resolved: bool | msgspec.UnsetType = msgspec.UNSET


class CommentRead(Response):
    id: uuid.UUID
    design_id: uuid.UUID
    parent_id: uuid.UUID | None
    author_id: uuid.UUID | None
    author: str
    body: str
    node_id: str | None
    version: int | None
    resolved: bool
    resolved_at: dt.datetime | None
    resolved_by: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted: bool = False


class CommentThread(CommentRead):
    replies: list[CommentRead] = msgspec.field(default_factory=list)


class CommentPage(Response):
    items: list[CommentThread]
    next_cursor: str | None = None


# --- errors (documentation of the problem+json bodies these routes return) ------------------------


class VersionConflict(ProblemDetails, kw_only=True):
    """409: ``base_version`` is not the current version; nothing was written."""

    current_version: int


# --- events ------------------------------------------------------------------------------------------


EventType = Literal[
    "version.created",
    "design.updated",
    "design.deleted",
    "comment.added",
    "comment.updated",
    "comment.resolved",
    "comment.deleted",
    "share.changed",
]


class DesignEvent(Response):
    """One server-sent event on ``GET /api/v1/designs/{id}/events`` (the SSE ``data`` field)."""

    id: str
    type: EventType
    design_id: uuid.UUID
    at: dt.datetime
    actor: str
    data: dict[str, Any] = msgspec.field(default_factory=dict)
