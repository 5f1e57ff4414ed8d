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
import functools
import uuid
from dataclasses import dataclass
from typing import Literal

from app.pipelines.schedule import Schedule

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_SPREAD = 1_000_003  # a prime: ids spread evenly over the window
_MICROSECOND = dt.timedelta(microseconds=1)


def phase(pipeline_id: uuid.UUID) -> float:
    """The pipeline's place in a window, in [0, 1)."""
    return (pipeline_id.int % _SPREAD) / _SPREAD


def next_check(
    schedule: Schedule, after: dt.datetime, pipeline_id: uuid.UUID, max_jitter: dt.timedelta
) -> dt.datetime:
    """The first due time strictly after ``after``."""
    after = after.astimezone(dt.UTC)
    if schedule.interval is not None:  # whole microseconds: exact, so a due time is never due twice
        period = schedule.interval // _MICROSECOND
        offset = int(phase(pipeline_id) * period)
        cycles = ((after - EPOCH) // _MICROSECOND - offset) // period + 1
        return EPOCH + (cycles * period + offset) * _MICROSECOND
    fires = _fires(schedule, after, max_jitter)
    first = next(f for f in fires if f > after)
    gap = next(f for f in fires if f > first) - first
    jitter = min(gap / 10, max_jitter) * phase(pipeline_id)
    return next(f for f in fires if f > after - jitter) + jitter


@functools.lru_cache(maxsize=256)
def _fires(schedule: Schedule, after: dt.datetime, max_jitter: dt.timedelta) -> tuple[dt.datetime, ...]:
    """The schedule's times from ``after - max_jitter`` until two past ``after``: every pipeline a
    tick claims asks about the same instant, so cron is consulted once per schedule and tick."""
    fires = [schedule.next_after(after - max_jitter)]
    while sum(1 for f in fires if f > after) < 2:
        fires.append(schedule.next_after(fires[-1]))
    return tuple(fires)


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
