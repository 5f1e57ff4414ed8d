"""Build analytics of a pipeline: executions and success rate over 7 and 30 days, median and p95
duration per operation. Computed from the last 30 days of execution rows (bounded by the window)."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Sequence
from typing import Any

from app.accounts.authz import Principal
from app.lib.clock import utcnow
from app.pipelines.model import SUCCEEDED
from app.pipelines.pipelines import pipeline_access
from app.pipelines.schemas import DurationStats, PipelineStats, WindowStats
from app.pipelines.tables import Execution


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 3)


def window(rows: Sequence[dict[str, Any]], since: dt.datetime) -> WindowStats:
    """Stats of the executions created since ``since``. The success rate counts succeeded against
    errored ones; canceled and discarded runs are someone's decision, not a failure."""
    mine = [r for r in rows if r["created_at"] >= since]
    succeeded = sum(1 for r in mine if r["status"] in SUCCEEDED)
    errored = sum(1 for r in mine if r["status"] == "errored")
    canceled = sum(1 for r in mine if r["status"] in ("canceled", "force_canceled", "discarded"))
    durations: dict[str, list[float]] = {}
    for r in mine:
        if r["status"] in SUCCEEDED and r["started_at"] and r["finished_at"]:
            durations.setdefault(r["operation"], []).append(
                (r["finished_at"] - r["started_at"]).total_seconds()
            )
    return WindowStats(
        executions=len(mine),
        succeeded=succeeded,
        errored=errored,
        canceled=canceled,
        success_rate=round(succeeded / (succeeded + errored), 4) if succeeded + errored else None,
        duration_by_operation={
            op: DurationStats(
                count=len(values), median_seconds=percentile(values, 50), p95_seconds=percentile(values, 95)
            )
            for op, values in sorted(durations.items())
        },
    )


async def pipeline_stats(principal: Principal, pipeline_id: uuid.UUID) -> PipelineStats:
    await pipeline_access(principal, pipeline_id, "pipeline:read")
    now = utcnow()
    rows = await Execution.select(
        Execution.status,
        Execution.operation,
        Execution.created_at,
        Execution.started_at,
        Execution.finished_at,
    ).where((Execution.pipeline == pipeline_id) & (Execution.created_at >= now - dt.timedelta(days=30)))
    return PipelineStats(
        pipeline_id=pipeline_id,
        last_7_days=window(rows, now - dt.timedelta(days=7)),
        last_30_days=window(rows, now - dt.timedelta(days=30)),
    )
