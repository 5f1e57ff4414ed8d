"""Run analytics as small inline SVG charts drawn on the server (pure: data in, markup out).

Colours come from the stylesheet through classes (``ok``, ``bad``, ``muted``), the same tones as
status badges; there are no inline styles, so the Content-Security-Policy needs no exception.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from app.pipelines.model import SUCCEEDED

FAILED = frozenset({"errored"})
SET_ASIDE = frozenset({"canceled", "force_canceled", "discarded"})


@dataclass(frozen=True, slots=True)
class Day:
    day: dt.date
    ok: int
    bad: int
    muted: int

    @property
    def total(self) -> int:
        return self.ok + self.bad + self.muted


def daily(rows: Sequence[dict[str, Any]], today: dt.date, days: int) -> list[Day]:
    """Finished executions per day (oldest first): succeeded, errored, and set aside."""
    counts: dict[dt.date, list[int]] = {today - dt.timedelta(days=i): [0, 0, 0] for i in range(days)}
    for row in rows:
        day = row["created_at"].astimezone(dt.UTC).date()
        bucket = counts.get(day)
        if bucket is None:
            continue
        if row["status"] in SUCCEEDED:
            bucket[0] += 1
        elif row["status"] in FAILED:
            bucket[1] += 1
        elif row["status"] in SET_ASIDE:
            bucket[2] += 1
    return [Day(d, *counts[d]) for d in sorted(counts)]


def daily_chart(days: Sequence[Day], width: int = 720, height: int = 180) -> Markup:
    """Stacked bars per day with a labelled axis; an accessible title per bar."""
    left, bottom, top = 32, 22, 10
    plot_h = height - bottom - top
    peak = max([d.total for d in days] + [1])
    step = (width - left) / max(1, len(days))
    bar_w = max(2.0, step * 0.7)
    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'aria-label="Executions per day">',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width}" y2="{top + plot_h}"/>',
        f'<text class="tick" x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text class="tick" x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for i, d in enumerate(days):
        x = left + i * step + (step - bar_w) / 2
        y = float(top + plot_h)
        title = escape(
            f"{d.day.isoformat()}: {d.ok} succeeded, {d.bad} errored, {d.muted} canceled or discarded"
        )
        out.append(f"<g><title>{title}</title>")
        for count, tone in ((d.ok, "ok"), (d.bad, "bad"), (d.muted, "muted")):
            if count:
                h = plot_h * count / peak
                y -= h
                out.append(
                    f'<rect class="bar {tone}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}"/>'
                )
        out.append("</g>")
        if (len(days) - 1 - i) % 7 == 0:  # the last day and every week before it
            label = escape(d.day.strftime("%b %d"))
            middle = x + bar_w / 2
            out.append(
                f'<text class="tick" x="{middle:.1f}" y="{height - 6}" text-anchor="middle">{label}</text>'
            )
    out.append("</svg>")
    return _trusted(out)


def rate_bar(rate: float | None, width: int = 240, height: int = 14) -> Markup:
    """A success rate as a filled bar (empty, with a dash, when nothing finished)."""
    filled = 0.0 if rate is None else max(0.0, min(1.0, rate)) * width
    label = "no finished runs" if rate is None else f"{rate * 100:.0f}% succeeded"
    return _trusted(
        [
            f'<svg class="chart rate" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}"><title>{escape(label)}</title>'
            f'<rect class="track" x="0" y="0" width="{width}" height="{height}" rx="3"/>'
            f'<rect class="bar ok" x="0" y="0" width="{filled:.1f}" height="{height}" rx="3"/></svg>'
        ]
    )


def duration_chart(stats: dict[str, Any], width: int = 480) -> Markup:
    """Median and p95 durations per operation as paired horizontal bars (seconds)."""
    items = [(op, s.median_seconds or 0.0, s.p95_seconds or 0.0, s.count) for op, s in sorted(stats.items())]
    if not items:
        return _trusted(['<p class="empty">No finished runs in this window.</p>'])
    peak = max([p95 for _, _, p95, _ in items] + [1.0])
    row_h, left = 34, 70
    height = row_h * len(items) + 8
    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" aria-label="Durations">'
    ]
    for i, (op, median, p95, count) in enumerate(items):
        y = 4 + i * row_h
        plot = width - left - 170
        out.append(f'<text class="label" x="0" y="{y + 14}">{escape(op)}</text>')
        long, short = plot * p95 / peak, plot * median / peak
        out.append(
            f'<rect class="bar muted" x="{left}" y="{y + 2}" width="{long:.1f}" height="12"/>'
            f'<rect class="bar running" x="{left}" y="{y + 16}" width="{short:.1f}" height="12"/>'
        )
        numbers = escape(f"median {median:.1f} s · p95 {p95:.1f} s · {count} runs")
        out.append(f'<text class="tick" x="{width}" y="{y + 19}" text-anchor="end">{numbers}</text>')
    out.append("</svg>")
    return _trusted(out)


def _trusted(parts: list[str]) -> Markup:
    """Markup built here: every text interpolated above went through ``escape``, the rest is numbers."""
    return Markup("".join(parts))  # noqa: S704
