"""Prometheus metrics of pipelines: stage durations and finished executions (observed by the
process that runs them), and executions by status and queue depth (read from the database by
``refresh``, the source of truth, so every process reports the same numbers)."""

from __future__ import annotations

import datetime as dt

from prometheus_client import Counter, Gauge, Histogram

from app.pipelines.model import STATUSES
from app.pipelines.tables import Execution

STAGE_SECONDS = Histogram(
    "board3_execution_stage_seconds",
    "Duration of execution stages (prepare, init, validate, plan, show, apply)",
    ["stage", "status"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
FINISHED = Counter("board3_executions_finished_total", "Executions that finished", ["operation", "status"])
DURATION = Histogram(
    "board3_execution_seconds",
    "Wall time of finished executions, from the first stage to the end",
    ["operation"],
    buckets=(1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400),
)
BY_STATUS = Gauge("board3_executions", "Executions by status (from the database)", ["status"])
QUEUE_DEPTH = Gauge("board3_execution_queue_depth", "Executions waiting for a state or a worker")


def observe_finished(
    operation: str, status: str, started: dt.datetime | None, finished: dt.datetime | None
) -> None:
    if finished is None:
        return
    FINISHED.labels(operation=operation, status=status).inc()
    if started is not None:
        DURATION.labels(operation=operation).observe((finished - started).total_seconds())


async def refresh() -> None:
    """Executions per status and the queue depth, as the database has them now."""
    rows = await Execution.raw("SELECT status, COUNT(*) AS n FROM pipeline_executions GROUP BY status")
    counts = {r["status"]: int(r["n"]) for r in rows}
    for status in STATUSES:
        BY_STATUS.labels(status=status).set(counts.get(status, 0))
    QUEUE_DEPTH.set(counts.get("pending", 0) + counts.get("queued", 0) + counts.get("confirmed", 0))
