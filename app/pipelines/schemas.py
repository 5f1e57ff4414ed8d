"""msgspec Structs of the pipelines API: pipelines, variables, executions, stats."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from app.designs.schemas import DriftGlance
from app.lib.schema import Request, Response

Environment = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="Lower-case letters, digits, '-' and '_'",
        examples=["production"],
    ),
]
StateName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Default: design-<design id>-<environment>",
        examples=["network-production"],
    ),
]
Schedule = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=128,
        description="A cron expression (`0 * * * *`) or an interval (`30m`, `6h`, `1d`)",
        examples=["0 */6 * * *", "6h"],
    ),
]
VariableKey = Annotated[str, msgspec.Meta(min_length=1, max_length=128, examples=["instance_size"])]
VariableValue = Annotated[str, msgspec.Meta(max_length=65536, examples=["small"])]
Category = Literal["terraform", "env"]
Operation = Literal["plan", "apply", "destroy"]


class PipelineCreate(Request):
    environment: Environment
    auto_apply: bool = False
    """Apply as soon as the plan is ready (no approval)."""
    require_approval: bool = False
    """The plan waits for someone with `pipeline:approve`; otherwise anyone with `pipeline:run` may
    confirm it. Cannot be combined with `auto_apply`."""
    drift_schedule: Schedule | None = None
    state_name: StateName | None = None


class PipelineUpdate(Request):
    auto_apply: bool | msgspec.UnsetType = msgspec.UNSET
    require_approval: bool | msgspec.UnsetType = msgspec.UNSET
    drift_schedule: Schedule | msgspec.UnsetType | None = msgspec.UNSET
    """null removes the schedule."""


class Actor(Response):
    type: str
    id: uuid.UUID | None
    label: str


class StateLink(Response):
    name: str
    diverged: bool
    """Board3 had to kill a run that may have changed infrastructure without recording it; the
    next successful apply clears this."""
    diverged_reason: str | None = None


class PipelineRead(Response):
    id: uuid.UUID
    organization: str
    design_id: uuid.UUID
    environment: str
    state: StateLink
    auto_apply: bool
    require_approval: bool
    drift_schedule: str | None
    next_drift_check_at: dt.datetime | None
    """When the schedule runs the next drift check (null: no schedule, or not planned yet)."""
    drift: DriftGlance | None
    """The latest drift check at a glance (`GET /pipelines/{id}/drift-checks` lists them all)."""
    last_applied_version: int | None
    last_applied_at: dt.datetime | None
    last_execution_id: uuid.UUID | None
    created_by: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime


class PipelineList(Response):
    items: list[PipelineRead]


class VariableCreate(Request):
    key: VariableKey
    value: VariableValue
    category: Category = "terraform"
    hcl: bool = False
    """The value is an HCL expression (`["a", "b"]`, `{size = 2}`) rather than a string."""
    sensitive: bool = False
    """Write-only: stored encrypted, never returned, masked in every log line."""
    description: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class VariableUpdate(Request):
    key: VariableKey | msgspec.UnsetType = msgspec.UNSET
    value: VariableValue | msgspec.UnsetType = msgspec.UNSET
    hcl: bool | msgspec.UnsetType = msgspec.UNSET
    sensitive: bool | msgspec.UnsetType = msgspec.UNSET
    """A sensitive variable stays sensitive (delete and re-create it to change that)."""
    description: Annotated[str, msgspec.Meta(max_length=1000)] | msgspec.UnsetType = msgspec.UNSET


class VariableRead(Response):
    id: uuid.UUID
    pipeline_id: uuid.UUID
    key: str
    category: Category
    hcl: bool
    sensitive: bool
    value: str | None
    """null for a sensitive variable."""
    description: str
    created_at: dt.datetime
    updated_at: dt.datetime


class VariableList(Response):
    items: list[VariableRead]


class ExecutionCreate(Request):
    operation: Operation
    """`plan` is speculative (never applies, never waits for the state); `apply` and `destroy`
    change infrastructure, one at a time per state."""
    version: Annotated[int, msgspec.Meta(ge=1, le=2_000_000_000)] | None = None
    """The design version to run (default: the current one)."""


class PlanCounts(Response):
    add: int
    change: int
    destroy: int
    replace: int


class ResourceChangeRead(Response):
    address: str
    type: str
    name: str
    module_address: str | None
    action: Literal["create", "update", "delete", "replace", "read", "no-op"]
    before: Any
    after: Any
    """Sensitive values read `(sensitive value)`; values only known after apply read
    `(known after apply)`."""
    changed_attributes: list[str]
    node_id: str | None = None
    """The canvas node the resource comes from, when known."""


class PlanRead(Response):
    has_changes: bool
    counts: PlanCounts
    outputs_changed: list[str]
    changes: list[ResourceChangeRead]


class StageRead(Response):
    name: str
    status: Literal["running", "succeeded", "failed", "canceled"]
    exit_code: int | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_seconds: float | None


class ExecutionSummary(Response):
    id: uuid.UUID
    pipeline_id: uuid.UUID
    number: int
    operation: Literal["plan", "apply", "destroy", "drift"]
    """`drift`: a drift check's run (started with `POST /pipelines/{id}/drift-checks`)."""
    status: str
    speculative: bool
    design_id: uuid.UUID
    design_version: int
    created_by: Actor
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    duration_seconds: float | None
    counts: PlanCounts | None
    error: str | None


class ExecutionRead(ExecutionSummary):
    environment: str
    state_name: str
    planned_at: dt.datetime | None
    confirmed_at: dt.datetime | None
    confirmed_by: str | None
    cancel_requested_at: dt.datetime | None
    force_cancel_available_at: dt.datetime | None
    """When a second cancel request becomes a force-cancel (`pipeline:approve`)."""
    canceled_by: str | None
    needs: Literal["approval", "confirmation"] | None
    """What a planned execution waits for: `approval` (`pipeline:approve`) or `confirmation`
    (`pipeline:run`)."""
    queue_position: int | None
    """For a pending execution: how many executions of the same state run or wait before it."""
    plan: PlanRead | None
    stages: list[StageRead]
    log_lines: int


class ExecutionPage(Response):
    items: list[ExecutionSummary]
    next_cursor: str | None = None


class DurationStats(Response):
    count: int
    median_seconds: float | None
    p95_seconds: float | None


class WindowStats(Response):
    executions: int
    succeeded: int
    errored: int
    canceled: int
    success_rate: float | None
    """Succeeded / (succeeded + errored); canceled and discarded runs are left out (null: none)."""
    duration_by_operation: dict[str, DurationStats]


class PipelineStats(Response):
    pipeline_id: uuid.UUID
    last_7_days: WindowStats
    last_30_days: WindowStats
