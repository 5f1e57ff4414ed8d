"""Liveness, readiness (database, Redis when configured, terraform binary) and metrics routes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from litestar import Controller, Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins.prometheus import PrometheusController
from litestar.response import Response as LitestarResponse
from piccolo.querystring import QueryString

from app.lib.schema import Response
from app.terraform.runner import TerraformError, find_terraform, terraform_version


class Check(Response):
    name: str
    ok: bool
    detail: str | None = None
    latency_ms: float | None = None
    fatal: bool = True


class Health(Response):
    status: str
    checks: list[Check]


_FAILURE_TTL = 60.0
_terraform_failures: dict[str, tuple[float, Check]] = {}


async def terraform_check(binary: str) -> Check:
    """Reported, never fatal: the API works without terraform; pipelines need it. A failure is
    remembered for a minute so that a broken binary does not slow every probe down."""
    failed = _terraform_failures.get(binary)
    if failed is not None and time.monotonic() - failed[0] < _FAILURE_TTL:
        return failed[1]
    try:
        path = find_terraform(binary)
        version = await terraform_version(path)  # cached per binary by the runner
    except (TerraformError, OSError) as exc:
        check = Check(name="terraform", ok=False, detail=str(exc), fatal=False)
        _terraform_failures[binary] = (time.monotonic(), check)
        return check
    return Check(name="terraform", ok=True, detail=f"{path} {version}", fatal=False)


async def _timed(name: str, probe: Any) -> Check:
    start = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), timeout=5)
        return Check(name=name, ok=True, latency_ms=round((time.perf_counter() - start) * 1000, 2))
    except Exception as exc:
        return Check(name=name, ok=False, detail=type(exc).__name__)


async def _workers(seen: Any) -> Check:
    """Reported, never fatal: without workers executions wait, the API works."""
    try:
        count = await asyncio.wait_for(seen(), timeout=5)
    except Exception as exc:
        return Check(name="workers", ok=False, detail=type(exc).__name__, fatal=False)
    return Check(name="workers", ok=count > 0, detail=f"{count} seen in the last minute", fatal=False)


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live", exclude_from_auth=True, summary="The process is up")
    async def live(self) -> Health:
        return Health(status="ok", checks=[])

    @get(
        "/ready",
        exclude_from_auth=True,
        summary="Dependencies reachable: database, Redis, terraform",
        responses={
            503: ResponseSpec(
                Health, description="The database or Redis is unreachable", generate_examples=False
            )
        },
    )
    async def ready(self, request: Request[Any, Any, Any]) -> LitestarResponse[Health]:
        """503 when the database or Redis is unreachable; terraform is reported but not fatal."""
        from app.db import get_engine

        state = request.app.state
        engine = get_engine()
        checks = [await _timed("database", lambda: engine.run_querystring(QueryString("SELECT 1")))]
        if state.redis is not None:
            checks.append(await _timed("redis", state.redis.ping))
        checks.append(await terraform_check(state.settings.terraform.binary))
        if state.get("workers_seen") is not None:
            checks.append(await _workers(state.workers_seen))
        ok = all(c.ok for c in checks if c.fatal)
        return LitestarResponse(
            Health(status="ok" if ok else "unavailable", checks=checks), status_code=200 if ok else 503
        )


class MetricsController(PrometheusController):
    """``/metrics`` as Litestar serves it, documented as the Prometheus text it is (not JSON)."""

    tags = ["health"]

    @get(
        media_type="text/plain",
        summary="Prometheus metrics",
        response_description="Prometheus text exposition format",
    )
    async def get(self) -> LitestarResponse[bytes]:
        """Request counts, durations and errors by route and status, and Python process metrics."""
        response: LitestarResponse[bytes] = await PrometheusController.get.fn(self)
        return response
