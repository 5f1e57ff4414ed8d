"""HTTP routes of drift checks (thin: decode, call one service, return)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar import Response as HttpResponse
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from app.accounts.authz import Principal
from app.designs.controller import DesignDeps, provide_design_deps
from app.drift import accepting, checks, reads
from app.drift.schemas import CHECK_STATUSES, AcceptRequest, AcceptResult, DriftCheckPage, DriftCheckRead
from app.lib.pagination import DEFAULT_LIMIT, Cursor, Limit

StatusFilter = Annotated[
    str | None,
    QueryParameter(
        name="status",
        max_length=16,
        pattern="^(" + "|".join(CHECK_STATUSES) + ")$",
        description="Only checks with this status",
    ),
]


class DriftController(Controller):
    path = "/api/v1"
    tags = ["drift"]
    dependencies = {"deps": Provide(provide_design_deps, sync_to_thread=False)}

    @post(
        "/pipelines/{pipeline_id:uuid}/drift-checks",
        status_code=HTTP_202_ACCEPTED,
        summary="Check a pipeline's infrastructure for drift",
    )
    async def start_check(
        self, principal: NamedDependency[Principal], pipeline_id: FromPath[uuid.UUID]
    ) -> DriftCheckRead:
        """Compare the real infrastructure with the state of the design version the pipeline last
        applied (`pipeline:run`). The check runs as an execution (operation `drift`) that waits for
        the state like an apply and never applies; follow it with `GET /drift-checks/{id}` (its log is
        the execution's). Before a first successful apply it is recorded as `skipped`, with why."""
        return await checks.start_check(principal, pipeline_id)

    @get("/pipelines/{pipeline_id:uuid}/drift-checks", summary="A pipeline's drift checks, newest first")
    async def list_checks(
        self,
        principal: NamedDependency[Principal],
        pipeline_id: FromPath[uuid.UUID],
        status: StatusFilter = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> DriftCheckPage:
        """The history of checks, manual and scheduled (`pipeline:read`)."""
        return await reads.list_checks(principal, pipeline_id, status=status, cursor=cursor, limit=limit)

    @get("/drift-checks/{check_id:uuid}", summary="A drift check: what drifted, per resource and attribute")
    async def get_check(
        self, principal: NamedDependency[Principal], check_id: FromPath[uuid.UUID]
    ) -> DriftCheckRead:
        """Each drifted resource (address, canvas node id, `update` or `delete`) with its attributes'
        state and real values (sensitive parts masked) and whether the next apply reverts them; the
        difference from the previous check; links to accept the drift or revert it (`pipeline:read`)."""
        return await reads.get_check(principal, check_id)

    @post(
        "/drift-checks/{check_id:uuid}/accept",
        summary="Accept drift into the design (a new design version)",
        responses={
            200: ResponseSpec(AcceptResult, description="The design already held the real values: no version")
        },
    )
    async def accept(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        check_id: FromPath[uuid.UUID],
        data: JSONBody[AcceptRequest],
    ) -> HttpResponse[AcceptResult]:
        """Save a design version in which each drifted argument of the chosen `resources` (default: all)
        takes its real value; computed attributes, sensitive values and properties set by edges or
        expressions are left alone (`not_accepted` says why). Nodes of resources deleted outside
        Terraform are removed only with `remove_deleted`. Needs `pipeline:read` and the right to write
        the design; 409 unless the check is `drifted` or when `base_version` is stale."""
        result = await accepting.accept_drift(principal, deps.cache, deps.events, check_id, data)
        return HttpResponse(result, status_code=HTTP_201_CREATED if result.created else HTTP_200_OK)
