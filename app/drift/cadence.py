"""When a pipeline's next drift check is due, and whether a check may run. Pure: no I/O.

Due times are spread per pipeline so that thousands of pipelines on one schedule do not all start
in the same second: a cron schedule fires within a window after each of its times (a tenth of its
period, at most ``max_jitter``), an interval schedule at a fixed phase of its interval. The phase
comes from the pipeline's id, so it is the same in every process and at every tick. The next due
time is always computed from the moment a check is claimed, never from the missed one: a scheduler
that was down for five periods catches up with one check, not five.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

from app.pipelines.schedule import Schedule

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_SPREAD = 1_000_003  # a prime: ids spread evenly over the window


def phase(pipeline_id: uuid.UUID) -> float:
    """The pipeline's place in a window, in [0, 1)."""
    return (pipeline_id.int % _SPREAD) / _SPREAD


def next_check(
    schedule: Schedule, after: dt.datetime, pipeline_id: uuid.UUID, max_jitter: dt.timedelta
) -> dt.datetime:
    """The first due time strictly after ``after``."""
    after = after.astimezone(dt.UTC)
    if schedule.interval is not None:
        period = schedule.interval.total_seconds()
        offset = phase(pipeline_id) * period
        elapsed = (after - EPOCH).total_seconds() - offset
        cycles = int(elapsed // period) + 1
        return EPOCH + dt.timedelta(seconds=cycles * period + offset)
    first = schedule.next_after(after)
    gap = schedule.next_after(first) - first
    jitter = min(gap / 10, max_jitter) * phase(pipeline_id)
    return schedule.next_after(after - jitter) + jitter


@dataclass(frozen=True, slots=True)
class Decision:
    action: Literal["run", "skip"]
    reason: str | None = None


def decide(
    *,
    trigger: Literal["manual", "schedule"],
    last_applied_version: int | None,
    ever_applied: bool,
    busy_with: str | None,
) -> Decision:
    """Whether a check runs now. ``busy_with`` names the execution holding (or waiting for) the
    state, if any: a scheduled check is skipped then (the next one comes soon enough), a manual one
    waits for its turn in the state's queue."""
    if last_applied_version is None:
        if ever_applied:
            return Decision(
                "skip", "the last apply destroyed everything: there is no infrastructure to check"
            )
        return Decision(
            "skip",
            "nothing applied yet: a drift check compares the infrastructure with the design version "
            "the pipeline last applied",
        )
    if busy_with is not None and trigger == "schedule":
        return Decision("skip", f"the state was in use by {busy_with}; the check waits for the next schedule")
    return Decision("run")
