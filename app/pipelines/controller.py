"""HTTP routes of pipelines, variables and executions (thin: decode, call one service, return)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar import Response as HttpResponse
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from app.accounts.authz import Principal
from app.lib.pagination import DEFAULT_LIMIT, Cursor, Limit
from app.pipelines import executions, pipelines, stats, variables
from app.pipelines.model import STATUSES
from app.pipelines.schemas import (
    ExecutionCreate,
    ExecutionPage,
    ExecutionRead,
    PipelineCreate,
    PipelineList,
    PipelineRead,
    PipelineStats,
    PipelineUpdate,
    VariableCreate,
    VariableList,
    VariableRead,
    VariableUpdate,
)

StatusFilter = Annotated[
    str | None,
    QueryParameter(
        name="status", max_length=32, pattern="^(" + "|".join(STATUSES) + ")$", description="Only this status"
    ),
]
Follow = Annotated[
    bool,
    QueryParameter(
        description="Stream as server-sent events (`line` events with the line number as id, then `end`)"
    ),
]
Start = Annotated[int, QueryParameter(ge=0, le=100_000_000, description="First line (0-based)")]
LastEventId = Annotated[
    str | None,
    HeaderParameter(
        name="Last-Event-ID",
        max_length=32,
        description="Resume a stream after this line (sent by EventSource)",
    ),
]


@dataclass
class LogOperation(Operation):
    """The log's 200 response is plain text, or an event stream with ``?follow=true``."""

    def __post_init__(self) -> None:
        ok = self.responses.get("200") if self.responses else None
        if not isinstance(ok, OpenAPIResponse):
            return
        ok.description = "The log as text, or (`follow=true`) as server-sent events"
        event = Schema(
            type=OpenAPIType.OBJECT,
            description="One server-sent event: a `line` (its id is the line number) or the `end`",
            properties={
                "event": Schema(type=OpenAPIType.STRING, enum=["line", "end"]),
                "id": Schema(type=OpenAPIType.STRING, description="The line number (0-based)"),
                "data": Schema(type=OpenAPIType.STRING, description="The line, or the final status"),
            },
        )
        ok.content = {
            "text/plain": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
            "text/event-stream": OpenAPIMediaType(schema=event),
        }


class PipelineController(Controller):
    path = "/api/v1"
    tags = ["pipelines"]

    @post("/designs/{design_id:uuid}/pipelines", status_code=HTTP_201_CREATED, summary="Create a pipeline")
    async def create_pipeline(
        self,
        principal: NamedDependency[Principal],
        design_id: FromPath[uuid.UUID],
        data: JSONBody[PipelineCreate],
    ) -> PipelineRead:
        """Apply this design to an environment (`pipeline:write`). The pipeline owns one state,
        `design-<design id>-<environment>` unless `state_name` is given; 409 if the design already has
        a pipeline for the environment or another pipeline owns the state."""
        return await pipelines.create_pipeline(principal, design_id, data)

    @get("/designs/{design_id:uuid}/pipelines", summary="A design's pipelines")
    async def list_pipelines(
        self, principal: NamedDependency[Principal], design_id: FromPath[uuid.UUID]
    ) -> PipelineList:
        return await pipelines.list_pipelines(principal, design_id)

    @get("/pipelines/{pipeline_id:uuid}", summary="A pipeline")
    async def get_pipeline(
        self, principal: NamedDependency[Principal], pipeline_id: FromPath[uuid.UUID]
    ) -> PipelineRead:
        return await pipelines.get_pipeline(principal, pipeline_id)

    @patch("/pipelines/{pipeline_id:uuid}", summary="Configure a pipeline")
    async def update_pipeline(
        self,
        principal: NamedDependency[Principal],
        pipeline_id: FromPath[uuid.UUID],
        data: JSONBody[PipelineUpdate],
    ) -> PipelineRead:
        """`auto_apply`, `require_approval`, `drift_schedule` (`pipeline:write`)."""
        return await pipelines.update_pipeline(principal, pipeline_id, data)

    @delete("/pipelines/{pipeline_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Delete a pipeline")
    async def delete_pipeline(
        self, principal: NamedDependency[Principal], pipeline_id: FromPath[uuid.UUID]
    ) -> None:
        """Deletes the pipeline, its variables and history (`pipeline:write`); 409 while an execution
        is unfinished. The state stays: it records real infrastructure."""
        await pipelines.delete_pipeline(principal, pipeline_id)

    @get("/pipelines/{pipeline_id:uuid}/stats", summary="Run analytics of a pipeline")
    async def pipeline_stats(
        self, principal: NamedDependency[Principal], pipeline_id: FromPath[uuid.UUID]
    ) -> PipelineStats:
        """Executions, success rate, and median and p95 duration per operation over 7 and 30 days."""
        return await stats.pipeline_stats(principal, pipeline_id)

    # --- variables -------------------------------------------------------------------------------

    @get("/pipelines/{pipeline_id:uuid}/variables", summary="A pipeline's variables")
    async def list_variables(
        self, principal: NamedDependency[Principal], pipeline_id: FromPath[uuid.UUID]
    ) -> VariableList:
        """Sensitive values are never returned (`value` is null)."""
        return await variables.list_variables(principal, pipeline_id)

    @post("/pipelines/{pipeline_id:uuid}/variables", status_code=HTTP_201_CREATED, summary="Add a variable")
    async def create_variable(
        self,
        principal: NamedDependency[Principal],
        pipeline_id: FromPath[uuid.UUID],
        data: JSONBody[VariableCreate],
    ) -> VariableRead:
        """A Terraform variable (`category: terraform`, given to terraform as a `.tfvars` value) or an
        environment variable (`env`). `sensitive` values are encrypted, write-only and masked in logs
        (`pipeline:write`)."""
        return await variables.create_variable(principal, pipeline_id, data)

    @patch("/variables/{variable_id:uuid}", summary="Change a variable")
    async def update_variable(
        self,
        principal: NamedDependency[Principal],
        variable_id: FromPath[uuid.UUID],
        data: JSONBody[VariableUpdate],
    ) -> VariableRead:
        return await variables.update_variable(principal, variable_id, data)

    @delete("/variables/{variable_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Delete a variable")
    async def delete_variable(
        self, principal: NamedDependency[Principal], variable_id: FromPath[uuid.UUID]
    ) -> None:
        await variables.delete_variable(principal, variable_id)

    # --- executions ------------------------------------------------------------------------------

    @post(
        "/pipelines/{pipeline_id:uuid}/executions",
        status_code=HTTP_202_ACCEPTED,
        summary="Start an execution",
    )
    async def start_execution(
        self,
        principal: NamedDependency[Principal],
        pipeline_id: FromPath[uuid.UUID],
        data: JSONBody[ExecutionCreate],
    ) -> ExecutionRead:
        """`plan` (speculative: never applies, never waits for the state), `apply` or `destroy` of
        the pinned design `version` (default: current) (`pipeline:run`). Follow it with
        `GET /executions/{id}` and its logs."""
        return await executions.start_execution(principal, pipeline_id, data)

    @get("/pipelines/{pipeline_id:uuid}/executions", summary="A pipeline's executions, newest first")
    async def list_executions(
        self,
        principal: NamedDependency[Principal],
        pipeline_id: FromPath[uuid.UUID],
        status: StatusFilter = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> ExecutionPage:
        return await executions.list_executions(
            principal, pipeline_id, status=status, cursor=cursor, limit=limit
        )

    @get("/executions/{execution_id:uuid}", summary="An execution: status, stages, plan")
    async def get_execution(
        self, principal: NamedDependency[Principal], execution_id: FromPath[uuid.UUID]
    ) -> ExecutionRead:
        return await executions.get_execution(principal, execution_id)

    @post("/executions/{execution_id:uuid}/approve", status_code=200, summary="Approve a planned execution")
    async def approve(
        self, principal: NamedDependency[Principal], execution_id: FromPath[uuid.UUID]
    ) -> ExecutionRead:
        """Apply exactly the saved plan. Needs `pipeline:approve` when the pipeline requires approval,
        otherwise `pipeline:run`; the approver and time are recorded. 409 unless `planned`."""
        return await executions.approve(principal, execution_id)

    @post("/executions/{execution_id:uuid}/discard", status_code=200, summary="Discard a planned execution")
    async def discard(
        self, principal: NamedDependency[Principal], execution_id: FromPath[uuid.UUID]
    ) -> ExecutionRead:
        """Throw the plan away; the state is free for the next execution. 409 unless `planned`."""
        return await executions.discard(principal, execution_id)

    @post("/executions/{execution_id:uuid}/cancel", status_code=200, summary="Cancel an execution")
    async def cancel(
        self, principal: NamedDependency[Principal], execution_id: FromPath[uuid.UUID]
    ) -> ExecutionRead:
        """Waiting executions end at once. A running one gets exactly one interrupt: terraform stops
        gracefully, saves state and releases the lock (`pipeline:run`). A second request after the
        cool-off (`force_cancel_available_at`) kills terraform and its providers; Board3 releases the
        lock and marks the state as possibly diverged (`pipeline:approve`)."""
        return await executions.cancel(principal, execution_id)

    @get(
        "/executions/{execution_id:uuid}/logs",
        summary="An execution's log (text, or live as server-sent events)",
        operation_class=LogOperation,
    )
    async def logs(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        execution_id: FromPath[uuid.UUID],
        follow: Follow = False,
        start: Start = 0,
        last_event_id: LastEventId = None,
    ) -> HttpResponse[Any]:
        """Plain text (secrets masked). With `?follow=true`: `text/event-stream` of `line` events
        (id = line number; a reconnecting EventSource resumes after `Last-Event-ID`), then one `end`
        event whose data is the final status."""
        if last_event_id is not None and last_event_id.isdigit():
            start = int(last_event_id) + 1
        if follow:
            channels = request.app.plugins.get(ChannelsPlugin)
            return ServerSentEvent(
                await executions.follow_log(principal, channels, execution_id, start),
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        text = await executions.log_text(principal, execution_id, start)
        return HttpResponse(content=text, media_type="text/plain")
