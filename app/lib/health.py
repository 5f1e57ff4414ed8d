"""Liveness, readiness (database, Redis when configured, terraform binary) and metrics routes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins.prometheus import PrometheusController
from litestar.response import Response as LitestarResponse
from piccolo.querystring import QueryString

from app.lib.schema import Response


class Check(Response):
    name: str
    ok: bool
    detail: str | None = None
    latency_ms: float | None = None
    fatal: bool = True


class Health(Response):
    status: str
    checks: list[Check]


# A check of something that is not this process's own dependency (the terraform binary, the
# workers): reported, never fatal. The composition root gives them (``app.state.reported_checks``).
ReportedCheck = Callable[[], Awaitable[Check]]


async def _timed(name: str, probe: Any) -> Check:
    start = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), timeout=5)
        return Check(name=name, ok=True, latency_ms=round((time.perf_counter() - start) * 1000, 2))
    except Exception as exc:
        return Check(name=name, ok=False, detail=type(exc).__name__)


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
        for reported in state.get("reported_checks", ()):
            checks.append(await reported())
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
