"""Pipeline pages: the organization's pipelines, a pipeline's executions and analytics, starting a
run, and an execution with its stages, plan, live log and the actions its status allows."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent

from app.console import charts, reads
from app.console.forms import convert, form_fields, optional_int, text
from app.console.render import Shell, page, redirect, same_org, shell_for
from app.lib.clock import utcnow
from app.lib.errors import FieldError, ValidationFailed
from app.lib.principal import Principal
from app.pipelines import executions, pipelines, stats, variables
from app.pipelines.model import FINISHED, RUNNING
from app.pipelines.schemas import ExecutionCreate, ExecutionRead, PipelineRead

CursorQuery = Annotated[str | None, QueryParameter(max_length=512)]
StartQuery = Annotated[int, QueryParameter(ge=0, le=100_000_000)]
LastEventId = Annotated[str | None, HeaderParameter(name="Last-Event-ID", max_length=32)]
PAGE_SIZE = 25
LOG_PAGE_LINES = 20_000  # lines an execution page shows at once; the rest via the text download
ACTIONS = ("approve", "discard", "cancel")


@dataclasses.dataclass(frozen=True, slots=True)
class Actions:
    """The buttons an execution's status and the viewer's permissions allow (the same rules the
    services apply: they decide again when the button is pressed)."""

    decide: bool
    decide_label: str
    cancel: bool
    force: bool
    force_wait_seconds: int | None


def actions_for(ex: ExecutionRead, shell: Shell) -> Actions:
    decide_permission = "pipeline:approve" if ex.needs == "approval" else "pipeline:run"
    decide = ex.status == "planned" and shell.can(decide_permission)
    running = ex.status in RUNNING
    second = running and ex.cancel_requested_at is not None
    cancel = ex.status not in FINISHED and shell.can("pipeline:run") and not second
    force = second and shell.can("pipeline:approve")
    wait = None
    if force and ex.force_cancel_available_at is not None:
        left = (ex.force_cancel_available_at - utcnow()).total_seconds()
        wait = int(left) + 1 if left > 0 else None
    label = "Approve and apply" if ex.needs == "approval" else "Confirm and apply"
    return Actions(decide, label, cancel, force, wait)


async def _execution(
    principal: Principal, shell: Shell, org: str, execution_id: uuid.UUID
) -> tuple[ExecutionRead, PipelineRead]:
    ex = await executions.get_execution(principal, execution_id)
    pipeline = await pipelines.get_pipeline(principal, ex.pipeline_id)
    same_org(shell, pipeline.organization, "execution")
    return ex, pipeline


class PipelinePages(Controller):
    path = "/orgs/{org:str}"

    @get("/pipelines")
    async def index(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], org: FromPath[str]
    ) -> Response[Any]:
        items = await reads.org_pipelines(principal, org)
        return await page(request, "pipelines/list.html", org=org, items=items)

    @get("/pipelines/{pipeline_id:uuid}")
    async def show(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        pipeline_id: FromPath[uuid.UUID],
        cursor: CursorQuery = None,
    ) -> Response[Any]:
        shell = await shell_for(request, org)
        pipeline = await pipelines.get_pipeline(principal, pipeline_id)
        same_org(shell, pipeline.organization, "pipeline")
        runs = await executions.list_executions(principal, pipeline_id, cursor=cursor, limit=PAGE_SIZE)
        analytics = await stats.pipeline_stats(principal, pipeline_id)
        overview = await reads.org_pipelines(principal, org, pipeline.design_id)
        design_name = next((o.design_name for o in overview if o.pipeline.id == pipeline_id), "")
        variable_list = await variables.list_variables(principal, pipeline_id)
        return await page(
            request,
            "pipelines/show.html",
            shell=shell,
            pipeline=pipeline,
            design_name=design_name,
            runs=runs.items,
            next_cursor=runs.next_cursor,
            analytics=analytics,
            charts=charts,
            variables=variable_list.items,
        )

    @post("/pipelines/{pipeline_id:uuid}/executions", status_code=303)
    async def start(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        pipeline_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """``POST /pipelines/{id}/executions``: a plan, apply or destroy of a design version."""
        fields = await form_fields(request)
        operation = text(fields, "operation")
        if operation not in ("plan", "apply", "destroy"):
            raise ValidationFailed(
                "invalid value for operation",
                errors=[FieldError("operation", "choose plan, apply or destroy")],
            )
        body: dict[str, Any] = {"operation": operation}
        version = optional_int(fields, "version")
        if version is not None:
            body["version"] = version
        started = await executions.start_execution(principal, pipeline_id, convert(body, ExecutionCreate))
        return redirect(
            f"/console/orgs/{org}/executions/{started.id}", f"{operation.title()} started.", request
        )

    @get("/executions/{execution_id:uuid}")
    async def execution(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        execution_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        shell = await shell_for(request, org)
        ex, pipeline = await _execution(principal, shell, org, execution_id)
        first = max(0, ex.log_lines - LOG_PAGE_LINES)
        log = await executions.log_text(principal, execution_id, first)
        return await page(
            request,
            "executions/show.html",
            shell=shell,
            ex=ex,
            pipeline=pipeline,
            actions=actions_for(ex, shell),
            log=log,
            log_first=first,
            log_next=first + log.count("\n"),
            finished=ex.status in FINISHED,
        )

    @get("/executions/{execution_id:uuid}/summary")
    async def summary(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        execution_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """The execution's status, actions, stages and plan: what the page refreshes while it runs."""
        shell = await shell_for(request, org)
        ex, pipeline = await _execution(principal, shell, org, execution_id)
        return await page(
            request,
            "executions/_summary.html",
            shell=shell,
            ex=ex,
            pipeline=pipeline,
            actions=actions_for(ex, shell),
            finished=ex.status in FINISHED,
        )

    @post("/executions/{execution_id:uuid}/{action:str}", status_code=303)
    async def act(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        execution_id: FromPath[uuid.UUID],
        action: FromPath[str],
    ) -> Response[Any]:
        """Approve, discard or cancel (a second cancel after the cool-off force-cancels), through the
        same service calls as the API, so its rules and permissions apply unchanged."""
        shell = await shell_for(request, org)
        await _execution(principal, shell, org, execution_id)
        if action == "approve":
            result, message = (
                await executions.approve(principal, execution_id),
                "Approved: applying the plan.",
            )
        elif action == "discard":
            result, message = await executions.discard(principal, execution_id), "Plan discarded."
        elif action == "cancel":
            result = await executions.cancel(principal, execution_id)
            message = {
                "force_canceled": "Force-canceled.",
                "canceled": "Canceled.",
            }.get(result.status, "Cancel requested: terraform is stopping gracefully.")
        else:
            raise ValidationFailed(
                f"unknown action {action!r}", errors=[FieldError("action", "approve, discard or cancel")]
            )
        return redirect(f"/console/orgs/{org}/executions/{result.id}", message, request)

    @get("/executions/{execution_id:uuid}/log")
    async def follow(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        execution_id: FromPath[uuid.UUID],
        start: StartQuery = 0,
        last_event_id: LastEventId = None,
    ) -> ServerSentEvent:
        """The live log as server-sent events: the API's stream (``executions.follow_log``)."""
        shell = await shell_for(request, org)
        await _execution(principal, shell, org, execution_id)
        if last_event_id is not None and last_event_id.isdigit():
            start = int(last_event_id) + 1
        channels = request.app.plugins.get(ChannelsPlugin)
        return ServerSentEvent(
            await executions.follow_log(principal, channels, execution_id, start),
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @get("/executions/{execution_id:uuid}/log.txt")
    async def log_text(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        execution_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        shell = await shell_for(request, org)
        await _execution(principal, shell, org, execution_id)
        return Response(
            content=await executions.log_text(principal, execution_id),
            media_type="text/plain; charset=utf-8",
            headers={"Content-Disposition": f'inline; filename="execution-{execution_id}.log"'},
        )
