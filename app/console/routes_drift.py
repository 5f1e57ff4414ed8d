"""Drift pages: each pipeline's latest drift check across the organization, a pipeline's history of
checks with "Check now", and a check with what drifted, its diagram with the drifted nodes marked,
and the two ways out (accept the drift into the design, or revert it with an apply).

Every action goes through the services the API uses (``app.drift.checks.start_check``,
``app.drift.accepting.accept_drift``, ``app.pipelines.executions.start_execution``), so their rules,
permissions and answers to another organization's objects (404) apply unchanged."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from app.console import reads, reads_drift
from app.console.forms import checkbox, convert, form_fields, text
from app.console.render import Shell, page, redirect, same_org, shell_for
from app.designs import exports
from app.designs.controller import DesignDeps
from app.drift import accepting, checks
from app.drift import reads as drift_reads
from app.drift.schemas import IN_FLIGHT, AcceptRequest, AcceptResult, DriftCheckRead
from app.lib.errors import Conflict, FieldError, ValidationFailed
from app.lib.principal import Principal
from app.pipelines import executions, pipelines
from app.pipelines.schemas import ExecutionCreate, PipelineRead

CursorQuery = Annotated[str | None, QueryParameter(max_length=512)]
PAGE_SIZE = 25
FLASH_LIMIT = 300  # what the next page shows of a message (render.shell_for)
FRAGMENT = "drift-check"  # the part of a check's page that refreshes while the check runs


def _deps(request: Request[Any, Any, Any]) -> DesignDeps:
    deps: DesignDeps = request.app.state.design_deps
    return deps


async def _pipeline(principal: Principal, shell: Shell, pipeline_id: uuid.UUID) -> PipelineRead:
    pipeline = await pipelines.get_pipeline(principal, pipeline_id)
    same_org(shell, pipeline.organization, "pipeline")
    return pipeline


async def _check(
    principal: Principal, shell: Shell, check_id: uuid.UUID
) -> tuple[DriftCheckRead, PipelineRead]:
    """The check (``pipeline:read``) and its pipeline, both of the organization in the URL."""
    check = await drift_reads.get_check(principal, check_id)
    pipeline = await pipelines.get_pipeline(principal, check.pipeline_id)
    same_org(shell, pipeline.organization, "drift check")
    return check, pipeline


async def _design_name(principal: Principal, org: str, pipeline: PipelineRead) -> str:
    overview = await reads.org_pipelines(principal, org, pipeline.design_id)
    return next((o.design_name for o in overview if o.pipeline.id == pipeline.id), "")


async def _diagram(request: Request[Any, Any, Any], principal: Principal, check: DriftCheckRead) -> str:
    """The checked version's diagram with this check's drifted nodes marked: the API's drift-aware
    ``diagram.svg?drift=<check>`` (no cache: the marks depend on the check, not only the version)."""
    if check.status != "drifted" or check.design_version is None:
        return ""
    rendered = await exports.diagram(
        principal,
        check.design_id,
        check.design_version,
        drift=str(check.id),
        drift_marks=_deps(request).drift_marks,
    )
    assert rendered.body is not None
    return rendered.body.decode()


def _accepted_message(result: AcceptResult) -> str:
    if not result.created:
        text_ = "The design already holds these values: no new version was saved."
    else:
        values = len(result.accepted)
        text_ = (
            f"Accepted {values} drifted value{'' if values == 1 else 's'}"
            f"{' and removed ' + str(len(result.removed_nodes)) + ' node(s)' if result.removed_nodes else ''}"
            f" into design version {result.version.number}. Apply it to make it what checks compare with."
        )
    if not result.valid:
        text_ += " The new version does not validate: see the design."
    if result.not_accepted:
        left = "; ".join(
            f"{n.address}{'.' + n.attribute if n.attribute else ''}: {n.reason}" for n in result.not_accepted
        )
        text_ += f" Not accepted: {left}"
    return text_ if len(text_) <= FLASH_LIMIT else text_[: FLASH_LIMIT - 1] + "…"


class DriftPages(Controller):
    path = "/orgs/{org:str}"

    @get("/drift")
    async def overview(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], org: FromPath[str]
    ) -> Response[Any]:
        """Each pipeline's latest check: status, drifted resources, when; links to its history."""
        items = await reads_drift.latest_checks(principal, org)
        return await page(request, "drift/index.html", org=org, items=items)

    @get("/pipelines/{pipeline_id:uuid}/drift")
    async def history(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        pipeline_id: FromPath[uuid.UUID],
        cursor: CursorQuery = None,
    ) -> Response[Any]:
        """A pipeline's checks, newest first (``GET /pipelines/{id}/drift-checks``)."""
        shell = await shell_for(request, org)
        pipeline = await _pipeline(principal, shell, pipeline_id)
        found = await drift_reads.list_checks(principal, pipeline_id, cursor=cursor, limit=PAGE_SIZE)
        return await page(
            request,
            "drift/history.html",
            shell=shell,
            pipeline=pipeline,
            design_name=await _design_name(principal, org, pipeline),
            checks=found.items,
            next_cursor=found.next_cursor,
        )

    @post("/pipelines/{pipeline_id:uuid}/drift-checks", status_code=303)
    async def check_now(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        pipeline_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """``POST /pipelines/{id}/drift-checks``: a manual check, waiting for the state like an apply."""
        shell = await shell_for(request, org)
        await _pipeline(principal, shell, pipeline_id)
        check = await checks.start_check(principal, pipeline_id)
        message = (
            f"Drift check skipped: {check.reason}"
            if check.status == "skipped"
            else "Drift check started: terraform reads every resource from the cloud."
        )
        return redirect(f"/console/orgs/{org}/drift-checks/{check.id}", message, request)

    @get("/drift-checks/{check_id:uuid}")
    async def show(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        check_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """A check: status, what drifted per resource and attribute, the diagram, accept or revert.
        While it runs, its part of the page refreshes itself (htmx, ``HX-Target: drift-check``)."""
        shell = await shell_for(request, org)
        check, pipeline = await _check(principal, shell, check_id)
        fragment = request.headers.get("hx-target") == FRAGMENT
        return await page(
            request,
            "drift/_check.html" if fragment else "drift/show.html",
            shell=shell,
            check=check,
            pipeline=pipeline,
            design_name=await _design_name(principal, org, pipeline),
            svg=await _diagram(request, principal, check),
            in_flight=check.status in IN_FLIGHT,
        )

    @post("/drift-checks/{check_id:uuid}/accept", status_code=303)
    async def accept(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        check_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """``POST /drift-checks/{id}/accept``: a design version holding the chosen resources' real
        values; then the design at that version."""
        shell = await shell_for(request, org)
        check, _ = await _check(principal, shell, check_id)
        fields = await form_fields(request)
        chosen = fields.get("resources")
        if not chosen:
            raise ValidationFailed(
                "choose at least one resource to accept",
                errors=[FieldError("resources", "choose at least one resource")],
            )
        body: dict[str, Any] = {
            "resources": chosen if isinstance(chosen, list) else [chosen],
            "remove_deleted": checkbox(fields, "remove_deleted"),
        }
        if text(fields, "message"):
            body["message"] = text(fields, "message")
        deps = _deps(request)
        result = await accepting.accept_drift(
            principal, deps.cache, deps.events, check_id, convert(body, AcceptRequest)
        )
        return redirect(
            f"/console/orgs/{org}/designs/{check.design_id}?version={result.version.number}",
            _accepted_message(result),
            request,
        )

    @post("/drift-checks/{check_id:uuid}/revert", status_code=303)
    async def revert(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        check_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """The check's ``links.revert``: an apply of the checked version (``POST
        /pipelines/{id}/executions``), an ordinary execution with its plan and approval."""
        shell = await shell_for(request, org)
        check, _ = await _check(principal, shell, check_id)
        if check.links.revert is None or check.links.revert.body is None:
            raise Conflict(
                f"the check is {check.status}: only drift a check found can be reverted",
                code="not-drifted",
            )
        data = convert(check.links.revert.body, ExecutionCreate)
        started = await executions.start_execution(principal, check.pipeline_id, data)
        return redirect(
            f"/console/orgs/{org}/executions/{started.id}",
            f"Apply of design version {data.version} started to put the infrastructure back.",
            request,
        )
