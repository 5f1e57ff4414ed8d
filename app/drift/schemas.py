"""msgspec Structs of drift checks: what drifted, how it compares with the previous check, the API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from app.designs.schemas import VersionSummary
from app.lib.schema import Request, Response

CheckStatus = Literal["pending", "running", "no_drift", "drifted", "errored", "canceled", "skipped"]
CHECK_STATUSES: tuple[str, ...] = (
    "pending",
    "running",
    "no_drift",
    "drifted",
    "errored",
    "canceled",
    "skipped",
)
IN_FLIGHT = frozenset({"pending", "running"})
RESULTS = frozenset({"no_drift", "drifted"})  # a check that saw the infrastructure
Trigger = Literal["manual", "schedule"]
Effect = Literal["will_be_reverted", "state_only", "unknown"]


class AttributeDrift(Response):
    """One top-level attribute whose real value differs from the one in the state."""

    name: str
    before: Any
    """The value the state recorded (sensitive parts read `(sensitive value)`)."""
    after: Any
    """The real value, read from the infrastructure (sensitive parts masked the same way)."""
    sensitive: bool = False
    """Part of the value is sensitive: it is masked here and cannot be accepted into the design."""
    effect: Effect = "unknown"
    """`will_be_reverted`: the next apply of the checked version puts the configured value back.
    `state_only`: the configuration does not set it (or sets it to the real value); only the state
    is out of date, and the next apply records the real value."""
    affects_plan: bool = False
    """Other changes a plan proposes depend on this attribute (Terraform's `relevant_attributes`)."""


class ResourceDrift(Response):
    address: str
    type: str
    name: str
    action: Literal["update", "delete"]
    """`update`: changed outside Terraform; `delete`: deleted outside Terraform."""
    module_address: str | None = None
    index: Any = None
    node_id: str | None = None
    """The canvas node the resource comes from (for a resource of a module: the module's node)."""
    effect: Effect = "unknown"
    """For a deleted resource, `will_be_reverted` means the next apply creates it again."""
    attributes: list[AttributeDrift] = msgspec.field(default_factory=list)


class DriftFinding(Response):
    """A resource in a comparison: the attributes concerned, or `deleted`."""

    address: str
    node_id: str | None = None
    deleted: bool = False
    attributes: list[str] = msgspec.field(default_factory=list)


class Difference(Response):
    """This check against the previous check that saw the infrastructure (`previous_check_id`)."""

    new: list[DriftFinding] = msgspec.field(default_factory=list)
    """Drifted now, not at the previous check (everything, when there is none)."""
    still_drifted: list[DriftFinding] = msgspec.field(default_factory=list)
    resolved: list[DriftFinding] = msgspec.field(default_factory=list)
    """Drifted at the previous check, no longer now (put back, applied over, or accepted)."""


class DriftCounts(Response):
    drifted: int
    """Resources changed or deleted outside Terraform."""
    changed: int
    deleted: int
    attributes: int
    will_be_reverted: int
    """Drifted attributes (and deleted resources) the next apply of the checked version reverts."""


class Link(Response):
    method: Literal["GET", "POST"]
    href: str
    body: dict[str, Any] | None = None


class DriftLinks(Response):
    self: Link
    pipeline: Link
    execution: Link | None = None
    log: Link | None = None
    diagram: Link | None = None
    accept: Link | None = None
    """Save a new design version in which the drifted arguments take their real values."""
    revert: Link | None = None
    """Put the infrastructure back: an apply of the checked design version (an ordinary execution)."""


class DriftCheckSummary(Response):
    id: uuid.UUID
    pipeline_id: uuid.UUID
    design_id: uuid.UUID
    environment: str
    design_version: int | None
    """The design version last applied, which the check compares with."""
    status: CheckStatus
    trigger: Trigger
    reason: str | None
    """Why a check was skipped, errored or canceled."""
    execution_id: uuid.UUID | None
    counts: DriftCounts
    created_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class DriftCheckRead(DriftCheckSummary):
    resources: list[ResourceDrift]
    previous_check_id: uuid.UUID | None
    difference: Difference | None
    """Null until the check has a result."""
    links: DriftLinks


class DriftCheckPage(Response):
    items: list[DriftCheckSummary]
    next_cursor: str | None = None


Address = Annotated[str, msgspec.Meta(min_length=1, max_length=1024, examples=["sandbox_load_balancer.site"])]


class AcceptRequest(Request):
    resources: Annotated[list[Address], msgspec.Meta(max_length=10_000)] | None = None
    """Addresses to accept (default: every drifted resource of the check)."""
    remove_deleted: bool = False
    """Remove the nodes of resources deleted outside Terraform from the canvas (default: keep them,
    so the next apply creates them again)."""
    base_version: Annotated[int, msgspec.Meta(ge=0, le=2_000_000_000)] | None = None
    """The design version the change is based on (default: the current one); 409 if stale."""
    message: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class AcceptedValue(Response):
    address: str
    node_id: str
    attribute: str
    design_value: Any
    """The value the design had (null: not set)."""
    value: Any
    """The real value it takes now (null: the property is removed)."""


class NotAccepted(Response):
    address: str
    attribute: str | None
    reason: str


class AcceptResult(Response):
    check_id: uuid.UUID
    design_id: uuid.UUID
    version: VersionSummary
    created: bool
    """False when the canvas already held the real values (no version was written)."""
    accepted: list[AcceptedValue]
    removed_nodes: list[str]
    not_accepted: list[NotAccepted]
    """Drift the design cannot take: computed attributes, sensitive values, properties set by a
    reference or an expression, resources without a canvas node."""
    valid: bool
    """Whether the new version passes validation (removing a node can leave references dangling)."""
