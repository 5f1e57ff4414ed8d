"""Drift schedules: a cron expression (``0 */6 * * *``) or an interval (``30m``, ``6h``, ``1d``).

Pure: parse once (refusing what cannot run, or runs more often than the configured minimum), then
compute the next due time after a given instant.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from croniter import CroniterError, croniter

_INTERVAL = re.compile(r"^(\d{1,6})\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ScheduleError(ValueError):
    """The schedule cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Schedule:
    text: str
    interval: dt.timedelta | None = None  # set for intervals; cron expressions use ``text``

    def next_after(self, instant: dt.datetime) -> dt.datetime:
        """The first due time strictly after ``instant`` (UTC)."""
        if self.interval is not None:
            return instant + self.interval
        nxt = croniter(self.text, instant.astimezone(dt.UTC)).get_next(dt.datetime)
        return nxt if nxt.tzinfo else nxt.replace(tzinfo=dt.UTC)


def parse_schedule(text: str, minimum: dt.timedelta) -> Schedule:
    raw = " ".join(text.split())
    match = _INTERVAL.match(raw.lower())
    if match:
        interval = dt.timedelta(seconds=int(match[1]) * _UNITS[match[2]])
        if interval < minimum:
            raise ScheduleError(f"runs more often than the minimum interval of {_human(minimum)}")
        return Schedule(raw.lower(), interval)
    if len(raw.split(" ")) != 5:
        raise ScheduleError(
            "use a 5-field cron expression (`0 */6 * * *`) or an interval (`30m`, `6h`, `1d`)"
        )
    try:
        runs = croniter(raw, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        first = runs.get_next(dt.datetime)
        gaps = []
        for _ in range(24):
            nxt = runs.get_next(dt.datetime)
            gaps.append(nxt - first)
            first = nxt
    except (CroniterError, ValueError, KeyError) as exc:
        raise ScheduleError(f"not a valid cron expression ({exc})") from None
    if min(gaps) < minimum:
        raise ScheduleError(f"runs more often than the minimum interval of {_human(minimum)}")
    return Schedule(raw)


def _human(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
