"""Orthogonal routes for a diagram's edges that go around the boxes in their way. Pure.

A route is a polyline of horizontal and vertical segments from the middle of a side of the source
box to the middle of a side of the target box. It may cross the boxes that contain either end (a
subnet's edge leaves its VPC) but never the inside of any other box. Each edge gets the first of:

1. a straight line, when the boxes face each other and nothing is in between;
2. a "Z": out of the side facing the target, one turn (just out of the box, just outside a box
   around it, or as far as the way is free), into the target's facing side;
3. line probes (Hightower's maze routing): free lines out of the sides of both boxes, then lines
   across them at a few escape points, breadth first, until a line from each end meet;
4. A* over the lines ``CLEAR`` away from the boxes near both ends (not reached in practice; the
   tests exercise it directly).

Layouts keep sibling boxes apart, so there is always a way between them. All of it asks one index:
how far is this line free of boxes around this point (``Boxes.stretch``, a binary search in
intervals between box edges). Routing a drawing may look at ``MAX_WORK`` index entries; edges past
that, and every edge of a drawing too big to index, get a plain "Z" whatever is in the way, so the
time a drawing takes stays bounded. Everything is ordered: the same boxes always give the same
routes.
"""

from __future__ import annotations

import heapq
import itertools
import math
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Mapping, Sequence

from app.terraform.layout import Rect

Point = tuple[float, float]
# a line probe: horizontal?, its fixed coordinate, the free stretch lo..hi, the route up to it
_Probe = tuple[bool, float, float, float, tuple[Point, ...]]
# an interval of the line index: where its boxes end along the lines (sorted) and those boxes,
# then where they start (sorted) and those boxes
_Strip = tuple[list[float], list[int], list[float], list[int]]

CLEAR = 8.0  # distance kept from a box by the lines routes run along
STUB = 12.0  # how far a route leaves a box before it may turn
CELL = 128.0  # smallest side of the grid index's cells
MAX_CELLS = 100_000  # about how many cells the grid index may fill
MAX_WORK = 300_000  # index entries routing may look at for one drawing; then direct lines
MAX_ENTRIES = 1_000_000  # boxes in the line index, summed over its intervals; beyond, no routing
BEND = 40.0  # what a turn costs A*, in pixels of length
PROBE_LEVELS = 4  # turns each side's line probes may add
MAX_PROBES = 400  # lines the probes of one edge may draw
MAX_EXPANSIONS = 10_000  # steps A* may take for one edge
WINDOW = 200.0  # first margin around both ends that A* searches within

# directions: 0 right, 1 down, 2 left, 3 up
_STEP = ((1, 0), (0, 1), (-1, 0), (0, -1))


class Boxes:
    """Boxes indexed for two questions: how far is a line free around a point (``stretch``: the
    intervals between box edges, each with the boxes covering it sorted along the line), and does a
    segment cross the inside of a box (``blocked``: a grid of cells, whose size grows with the
    drawing so a huge drawing cannot make the grid huge)."""

    def __init__(self, rects: Sequence[Rect]) -> None:
        self.rects = [(r.x, r.y, r.x + r.w, r.y + r.h) for r in rects]
        area = sum(r.w * r.h for r in rects)
        span = sum(r.w + r.h for r in rects)
        self.cell = max(CELL, math.sqrt(area / MAX_CELLS), span / MAX_CELLS)
        self.work = 0  # index entries looked at so far: what routing has cost
        self.cells: dict[tuple[int, int], list[int]] = {}
        for i, (x1, y1, x2, y2) in enumerate(self.rects):
            for cx in range(self._cell(x1), self._cell(x2) + 1):
                for cy in range(self._cell(y1), self._cell(y2) + 1):
                    self.cells.setdefault((cx, cy), []).append(i)
        # For lines x = u (index 0) and y = u (index 1): the box edges across the lines, sorted, and
        # for each open interval between two edges, the boxes covering it (all of which a line in
        # that interval crosses), ordered along the line by where they end and where they start.
        self.edges: tuple[list[float], list[float]] = ([], [])
        self.strips: tuple[dict[int, _Strip], dict[int, _Strip]] = ({}, {})
        self.exact = True
        entries = 0
        for axis in (0, 1):
            edges = sorted({r[axis] for r in self.rects} | {r[axis + 2] for r in self.rects})
            members: dict[int, list[int]] = {}
            for i, r in enumerate(self.rects):
                k1, k2 = bisect_right(edges, r[axis]), bisect_left(edges, r[axis + 2])
                entries += k2 - k1 + 1
                if entries > MAX_ENTRIES:  # too big to route: callers draw direct lines
                    self.exact = False
                    return
                for k in range(k1, k2 + 1):
                    members.setdefault(k, []).append(i)
            across = 1 - axis
            self.edges[axis].extend(edges)
            for k, ids in members.items():
                by_end = sorted(ids, key=lambda i: (self.rects[i][across + 2], i))
                by_start = sorted(ids, key=lambda i: (self.rects[i][across], i))
                self.strips[axis][k] = (
                    [self.rects[i][across + 2] for i in by_end],
                    by_end,
                    [self.rects[i][across] for i in by_start],
                    by_start,
                )

    def _cell(self, v: float) -> int:
        return math.floor(v / self.cell)

    def blocked(self, p: Point, q: Point, skip: Collection[int]) -> bool:
        """True when the axis-parallel segment p-q crosses the inside of a box not in ``skip``."""
        ax, bx = (p[0], q[0]) if p[0] <= q[0] else (q[0], p[0])
        ay, by = (p[1], q[1]) if p[1] <= q[1] else (q[1], p[1])
        rects, cells = self.rects, self.cells
        for cx in range(self._cell(ax), self._cell(bx) + 1):
            for cy in range(self._cell(ay), self._cell(by) + 1):
                for i in cells.get((cx, cy), ()):
                    x1, y1, x2, y2 = rects[i]
                    if ax < x2 and bx > x1 and ay < y2 and by > y1 and i not in skip:
                        return True
        return False

    def near(self, x1: float, y1: float, x2: float, y2: float) -> set[int]:
        """Boxes that touch the area (x1, y1)-(x2, y2)."""
        found: set[int] = set()
        for cx in range(self._cell(x1), self._cell(x2) + 1):
            for cy in range(self._cell(y1), self._cell(y2) + 1):
                found.update(self.cells.get((cx, cy), ()))
        return found

    def stretch(
        self, u: float, v: float, skip: Collection[int], vertical: bool, lo: float, hi: float
    ) -> tuple[float, float]:
        """The part of ``lo..hi`` around ``v`` on the line x = u (``vertical``) or y = u that
        crosses the inside of no box outside ``skip``; the point (u, v) itself is outside them.
        Adds the entries it looks at to ``work``."""
        axis = 0 if vertical else 1
        edges = self.edges[axis]
        k = bisect_left(edges, u)  # the interval left of u when u is an edge, whose boxes may end at u
        strip = self.strips[axis].get(k)
        self.work += 1
        if strip is None:
            return lo, hi
        ends, end_ids, starts, start_ids = strip
        rects = self.rects
        on_edge = k < len(edges) and edges[k] == u
        i = i0 = bisect_right(ends, v) - 1
        while i >= 0 and ends[i] > lo:
            j = end_ids[i]
            if j not in skip and not (on_edge and rects[j][axis + 2] <= u):
                lo = ends[i]
                break
            i -= 1
        j = j0 = bisect_left(starts, v)
        n = len(starts)
        while j < n and starts[j] < hi:
            m = start_ids[j]
            if m not in skip and not (on_edge and rects[m][axis + 2] <= u):
                hi = starts[j]
                break
            j += 1
        self.work += (i0 - i) + (j - j0)
        return lo, hi


class Router:
    """Routes between the boxes of one layout; ``parent`` tells which boxes contain which."""

    def __init__(
        self, rects: Mapping[str, Rect], parent: Mapping[str, str | None], width: float, height: float
    ) -> None:
        self.ids = list(rects)
        self.index = {nid: i for i, nid in enumerate(self.ids)}
        self.boxes = Boxes([rects[nid] for nid in self.ids])
        self.parent = parent
        self.width, self.height = width, height
        self.frame = (CLEAR, CLEAR, width - CLEAR, height - CLEAR)

    def _outer(self, nid: str) -> list[tuple[float, float, float, float]]:
        """The boxes around ``nid``, innermost first."""
        out = []
        cur = self.parent.get(nid)
        while cur is not None:
            out.append(self.boxes.rects[self.index[cur]])
            cur = self.parent.get(cur)
        return out

    def _skip(self, s: str, t: str) -> frozenset[int]:
        """The boxes a route between s and t may cross: those containing either end."""
        out: set[int] = set()
        for nid in (s, t):
            cur = self.parent.get(nid)
            while cur is not None:
                out.add(self.index[cur])
                cur = self.parent.get(cur)
        return frozenset(out)

    def route(self, s: str, t: str) -> list[Point]:
        """The route from a side of s to a side of t."""
        src, dst = self.boxes.rects[self.index[s]], self.boxes.rects[self.index[t]]
        if not self.boxes.exact or self.boxes.work > MAX_WORK:
            return _fallback(src, dst)
        skip = self._skip(s, t)
        # side by side: leave sideways; one above the other: up or down (line probes try the rest)
        along_x = src[2] <= dst[0] or dst[2] <= src[0]
        if along_x or src[3] <= dst[1] or dst[3] <= src[1]:
            found = self._simple(src, dst, skip, along_x, (self._outer(s), self._outer(t)))
            if found is not None:
                return found
        return self._probe(src, dst, skip) or self._search(src, dst, skip) or _fallback(src, dst)

    # -- the simple shapes, in a frame where the route runs along u (x when along_x, else y) ----

    def _simple(
        self,
        src: tuple[float, ...],
        dst: tuple[float, ...],
        skip: frozenset[int],
        along_x: bool,
        outer: tuple[list[tuple[float, float, float, float]], list[tuple[float, float, float, float]]],
    ) -> list[Point] | None:
        if along_x:
            s_lo, s_hi, s_a, s_b = src[0], src[2], src[1], src[3]
            t_lo, t_hi, t_a, t_b = dst[0], dst[2], dst[1], dst[3]
        else:
            s_lo, s_hi, s_a, s_b = src[1], src[3], src[0], src[2]
            t_lo, t_hi, t_a, t_b = dst[1], dst[3], dst[0], dst[2]

        def pt(u: float, v: float) -> Point:
            return (u, v) if along_x else (v, u)

        def free(points: list[Point]) -> bool:
            return not any(self.boxes.blocked(p, q, skip) for p, q in itertools.pairwise(points))

        d = 1.0 if t_lo >= s_hi else -1.0
        a = s_hi if d > 0 else s_lo  # where the route leaves the source
        b = t_lo if d > 0 else t_hi  # where it enters the target
        sv, tv = (s_a + s_b) / 2, (t_a + t_b) / 2
        lo, hi = max(s_a, t_a), min(s_b, t_b)
        if hi - lo > 2:  # facing each other: straight across
            v = sv if lo < sv < hi else tv if lo < tv < hi else (lo + hi) / 2
            straight = [pt(a, v), pt(b, v)]
            if free(straight):
                return straight
        if (b - a) * d < 2 * STUB:
            return None
        # where the route may turn after leaving the source (c1) and before entering the target (c2),
        # each within the free stretch of its row
        firsts, reach1 = self._turns(a, sv, b, d, outer[0], skip, along_x)
        lasts, reach2 = self._turns(b, tv, a, -d, outer[1], skip, along_x)
        f_lo, f_hi = (self.frame[1], self.frame[3]) if along_x else (self.frame[0], self.frame[2])
        for c1 in firsts:  # Z: one turn out of the source, across to the target
            lo1, hi1 = self.boxes.stretch(c1, sv, skip, along_x, f_lo, f_hi)
            if lo1 <= tv <= hi1 and reach2[0] <= c1 <= reach2[1]:
                return _simplify([pt(a, sv), pt(c1, sv), pt(c1, tv), pt(b, tv)])
        for c2 in lasts:  # Z: across from the source, one turn into the target
            lo2, hi2 = self.boxes.stretch(c2, tv, skip, along_x, f_lo, f_hi)
            if lo2 <= sv <= hi2 and reach1[0] <= c2 <= reach1[1]:
                return _simplify([pt(a, sv), pt(c2, sv), pt(c2, tv), pt(b, tv)])
        return None

    def _turns(
        self,
        a: float,
        v: float,
        b: float,
        d: float,
        outer: list[tuple[float, float, float, float]],
        skip: frozenset[int],
        along_x: bool,
    ) -> tuple[list[float], tuple[float, float]]:
        """Where a route leaving at ``(a, v)`` towards ``b`` may turn, nearest first (``STUB`` out,
        just outside each box around its end, as far as it can go before the next box), and the
        free stretch of its row."""
        lo, hi = self.boxes.stretch(v, a, skip, not along_x, min(a, b), max(a, b))
        room = 2 * CLEAR if (hi - lo) > 2 * STUB + 2 * CLEAR else CLEAR  # keep off the next box
        reach = hi - room if d > 0 else lo + room
        sides = (
            [r[2] + CLEAR if d > 0 else r[0] - CLEAR for r in outer]
            if along_x
            else [r[3] + CLEAR if d > 0 else r[1] - CLEAR for r in outer]
        )
        first, last = a + d * STUB, b - d * STUB
        if (reach - first) * d < 0:
            return [], (lo, hi)
        ok = [
            c for c in (*sides, reach) if (c - first) * d > 0 and (last - c) * d > 0 and (reach - c) * d >= 0
        ]
        out = sorted({first, *ok})
        return (out if d > 0 else out[::-1]), (lo, hi)

    # -- line probes from both ends ------------------------------------------------------------

    def _probe(
        self, src: tuple[float, ...], dst: tuple[float, ...], skip: frozenset[int]
    ) -> list[Point] | None:
        """Line-probe search (Hightower's): free lines out of each side of both boxes; from each line,
        perpendicular lines at a few escape points (towards the other box, just short of what stops
        the line); done when a line from the source meets one from the target. Breadth first, so
        the route found has few turns."""
        fx1, fy1, fx2, fy2 = self.frame

        def probe(horizontal: bool, f: float, at: float, path: tuple[Point, ...]) -> _Probe | None:
            if horizontal:
                lo, hi = self.boxes.stretch(f, at, skip, False, fx1, fx2)
            else:
                lo, hi = self.boxes.stretch(f, at, skip, True, fy1, fy2)
            return None if lo >= hi else (horizontal, f, lo, hi, path)

        def starts(box: tuple[float, ...], other: tuple[float, ...], facing: bool) -> list[_Probe]:
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            ox, oy = (other[0] + other[2]) / 2, (other[1] + other[3]) / 2
            ports = [(box[0], cy, True), (box[2], cy, True), (cx, box[1], False), (cx, box[3], False)]
            if facing:  # only the sides that face the other box
                ports = [q for q in ports if abs(q[0] - ox) + abs(q[1] - oy) < abs(cx - ox) + abs(cy - oy)]
            ports.sort(key=lambda q: (abs(q[0] - ox) + abs(q[1] - oy), q))
            found = []
            for x, y, horizontal in ports:
                line = probe(horizontal, y if horizontal else x, x if horizontal else y, ((x, y),))
                if line is not None:
                    found.append(line)
            return found

        def escapes(line: _Probe, other: tuple[float, ...]) -> list[float]:
            horizontal, _, lo, hi, path = line
            at = path[-1][0] if horizontal else path[-1][1]
            o1, o2 = (other[0], other[2]) if horizontal else (other[1], other[3])
            out = []
            for u in (min(max((o1 + o2) / 2, lo), hi), o1 - STUB, o2 + STUB, lo + CLEAR, hi - CLEAR):
                if lo < u < hi and abs(u - at) > 1 and u not in out:
                    out.append(u)
            return out

        def meet(a: _Probe, b: _Probe) -> list[Point] | None:
            """The route when source line ``a`` meets target line ``b``."""
            if a[0] != b[0]:
                h, v = (a, b) if a[0] else (b, a)
                if h[2] <= v[1] <= h[3] and v[2] <= h[1] <= v[3]:
                    return [*a[4], (v[1], h[1]), *reversed(b[4])]
            elif a[1] == b[1] and a[2] <= b[3] and b[2] <= a[3]:
                return [*a[4], *reversed(b[4])]
            return None

        def search(sides: tuple[list[_Probe], list[_Probe]]) -> list[Point] | None:
            for a in sides[0]:
                for b in sides[1]:
                    if (found := meet(a, b)) is not None:
                        return _simplify(found)
            frontiers = (list(sides[0]), list(sides[1]))
            seen = {line[:4] for side in sides for line in side}
            for _ in range(PROBE_LEVELS):
                for k, other in ((0, dst), (1, src)):
                    grown: list[_Probe] = []
                    for line in frontiers[k]:
                        horizontal, f = line[0], line[1]
                        for u in escapes(line, other):
                            point = (u, f) if horizontal else (f, u)
                            new = probe(not horizontal, u, f, (*line[4], point))
                            if new is None or new[:4] in seen:
                                continue
                            seen.add(new[:4])
                            for opposite in sides[1 - k]:
                                found = meet(new, opposite) if k == 0 else meet(opposite, new)
                                if found is not None:
                                    return _simplify(found)
                            grown.append(new)
                            sides[k].append(new)
                            if len(seen) > MAX_PROBES:
                                return None
                    frontiers[k][:] = grown
            return None

        for facing in (True, False):  # the sides facing the other box first, then all four
            found = search((starts(src, dst, facing), starts(dst, src, facing)))
            if found is not None:
                return found
        return None

    # -- A* over the lines near both ends -----------------------------------------------------

    def _search(
        self, src: tuple[float, ...], dst: tuple[float, ...], skip: frozenset[int]
    ) -> list[Point] | None:
        """A* in a window around both ends, widened until a route is found or steps run out."""
        margin = WINDOW
        budget = MAX_EXPANSIONS
        while budget > 0:
            x1 = max(0.0, min(src[0], dst[0]) - margin)
            y1 = max(0.0, min(src[1], dst[1]) - margin)
            x2 = min(self.width, max(src[2], dst[2]) + margin)
            y2 = min(self.height, max(src[3], dst[3]) + margin)
            whole = x1 <= 0 and y1 <= 0 and x2 >= self.width and y2 >= self.height
            found, used = self._astar(src, dst, skip, (x1, y1, x2, y2), budget)
            if found is not None or whole:
                return found
            budget -= used
            margin *= 3
        return None

    def _astar(
        self,
        src: tuple[float, ...],
        dst: tuple[float, ...],
        skip: frozenset[int],
        window: tuple[float, float, float, float],
        budget: int,
    ) -> tuple[list[Point] | None, int]:
        wx1, wy1, wx2, wy2 = window
        fx1, fy1, fx2, fy2 = self.frame
        lx1, ly1, lx2, ly2 = max(wx1, fx1), max(wy1, fy1), min(wx2, fx2), min(wy2, fy2)
        sx, sy = (src[0] + src[2]) / 2, (src[1] + src[3]) / 2
        tx, ty = (dst[0] + dst[2]) / 2, (dst[1] + dst[3]) / 2
        xs = {lx1, lx2, sx, tx, src[0], src[2], dst[0], dst[2]}
        ys = {ly1, ly2, sy, ty, src[1], src[3], dst[1], dst[3]}
        for i in self.boxes.near(lx1, ly1, lx2, ly2):
            x1, y1, x2, y2 = self.boxes.rects[i]
            xs.update(v for v in (x1 - CLEAR, x2 + CLEAR) if lx1 <= v <= lx2)
            ys.update(v for v in (y1 - CLEAR, y2 + CLEAR) if ly1 <= v <= ly2)
        xl, yl = sorted(xs), sorted(ys)
        xi, yi = {v: i for i, v in enumerate(xl)}, {v: i for i, v in enumerate(yl)}
        # ports: the middle of each side, leaving outwards / entering inwards
        starts = [
            (xi[src[2]], yi[sy], 0),
            (xi[sx], yi[src[3]], 1),
            (xi[src[0]], yi[sy], 2),
            (xi[sx], yi[src[1]], 3),
        ]
        goals = {
            (xi[dst[0]], yi[ty], 0),
            (xi[tx], yi[dst[1]], 1),
            (xi[dst[2]], yi[ty], 2),
            (xi[tx], yi[dst[3]], 3),
        }

        def h(i: int, j: int) -> float:
            x, y = xl[i], yl[j]
            return max(dst[0] - x, 0.0, x - dst[2]) + max(dst[1] - y, 0.0, y - dst[3])

        blocked = self.boxes.blocked
        best: dict[tuple[int, int, int], float] = {}
        came: dict[tuple[int, int, int], tuple[int, int, int] | None] = {}
        heap: list[tuple[float, float, int, int, int]] = []
        for i, j, d in starts:
            best[(i, j, d)] = 0.0
            came[(i, j, d)] = None
            heapq.heappush(heap, (h(i, j), 0.0, i, j, d))
        start_set = set(starts)
        used = 0
        while heap and used < budget:
            _, g, i, j, d = heapq.heappop(heap)
            state = (i, j, d)
            if g > best.get(state, math.inf):
                continue
            if state in goals:
                return _simplify(_points(state, came, xl, yl)), used
            used += 1
            self.boxes.work += 10
            for nd in (d,) if state in start_set else (d, (d + 1) % 4, (d + 3) % 4):
                di, dj = _STEP[nd]
                ni, nj = i + di, j + dj
                if not (0 <= ni < len(xl) and 0 <= nj < len(yl)):
                    continue
                p, q = (xl[i], yl[j]), (xl[ni], yl[nj])
                if blocked(p, q, skip):
                    continue
                ng = g + abs(q[0] - p[0]) + abs(q[1] - p[1]) + (BEND if nd != d else 0.0)
                nstate = (ni, nj, nd)
                if ng < best.get(nstate, math.inf):
                    best[nstate] = ng
                    came[nstate] = state
                    heapq.heappush(heap, (ng + 1.0 * h(ni, nj), ng, ni, nj, nd))
        return None, used


def _points(
    state: tuple[int, int, int],
    came: Mapping[tuple[int, int, int], tuple[int, int, int] | None],
    xl: Sequence[float],
    yl: Sequence[float],
) -> list[Point]:
    out: list[Point] = []
    cur: tuple[int, int, int] | None = state
    while cur is not None:
        out.append((xl[cur[0]], yl[cur[1]]))
        cur = came[cur]
    out.reverse()
    return out


def _simplify(points: list[Point]) -> list[Point]:
    """Drop repeated points and the middle of three points on one line."""
    out: list[Point] = []
    for p in points:
        if out and out[-1] == p:
            continue
        if len(out) >= 2 and (out[-2][0] == out[-1][0] == p[0] or out[-2][1] == out[-1][1] == p[1]):
            out[-1] = p
        else:
            out.append(p)
    return out


def _fallback(src: tuple[float, ...], dst: tuple[float, ...]) -> list[Point]:
    """A Z between facing sides, whatever is in the way (only when no route was found)."""
    sy, ty = (src[1] + src[3]) / 2, (dst[1] + dst[3]) / 2
    a, b = (src[0], dst[2]) if dst[2] <= src[0] else (src[2], dst[0])
    c = (a + b) / 2
    return _simplify([(a, sy), (c, sy), (c, ty), (b, ty)])
