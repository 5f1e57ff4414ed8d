"""Layout of a canvas: boxes where the canvas put them, a layered layout for the rest, children
inside their parents.

Siblings (nodes with the same parent) are arranged together. Those with a canvas ``position``
keep their relative order on both axes: scaled from the canvas coordinates, then pushed right only
as far as needed so no two boxes overlap (``_place``). Those without one get a layered
left-to-right layout, dependencies on the left of what depends on them (an edge ``u -> v`` puts v
in an earlier column), as a block beside the placed ones. Each parent is laid out as a box around
its children, recursively; edges between nodes in different boxes are lifted to the boxes that
contain them. Sibling boxes are always at least ``GAP_Y - BAND`` apart, children ``PAD`` inside their
parent, so there is room to route edges between any two boxes. Iterative throughout so hostile
depth cannot exhaust the stack; linear apart from sorting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx

from app.terraform.canvas import Canvas, Node

LEAF_H = 48.0
LEAF_MIN_W = 150.0
LEAF_MAX_W = 250.0
CHAR_W = 7.0
PAD = 16.0
HEADER = 28.0
GAP_X = 70.0
GAP_Y = 18.0
MARGIN = 24.0
MAX_NESTING = 24
MIN_COLUMN_HEIGHT = 700.0
PLACED_GAP_X = 32.0  # horizontal room kept between placed boxes pushed apart
BAND = 6.0  # height of the horizontal bands that find which placed boxes share a row
DENSITY = 1.0  # placed boxes are spread until their extent could hold DENSITY times their area
MAX_EXTENT = 50_000.0  # canvas coordinates further apart than this are compressed
MAX_COORDINATE = 1e9


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    w: float
    h: float

    def contains(self, other: Rect) -> bool:
        return (
            self.x <= other.x
            and self.y <= other.y
            and other.x + other.w <= self.x + self.w
            and other.y + other.h <= self.y + self.h
        )

    def intersects(self, other: Rect) -> bool:
        return not (
            other.x >= self.x + self.w
            or self.x >= other.x + other.w
            or other.y >= self.y + self.h
            or self.y >= other.y + other.h
        )


def leaf_width(type_label: str, name: str) -> float:
    chars = max(len(type_label), len(name))
    return min(LEAF_MAX_W, max(LEAF_MIN_W, chars * CHAR_W + 2 * 12))


def effective_parents(canvas: Canvas) -> dict[str, str | None]:
    """Parent of each node after dropping unknown parents, loops and nesting beyond MAX_NESTING."""
    ids: dict[str, str | None] = {}
    for n in canvas.nodes:
        ids.setdefault(n.id, n.parent)
    parent: dict[str, str | None] = {k: (p if p in ids and p != k else None) for k, p in ids.items()}
    depth: dict[str, int] = {}
    for start in parent:
        chain: list[str] = []
        cur: str | None = start
        while cur is not None and cur not in depth and cur not in chain:
            chain.append(cur)
            cur = parent[cur]
        if cur is not None and cur in chain:  # loop: cut it where it closes
            parent[chain[-1]] = None
            cur = None
        base = -1 if cur is None else depth[cur]
        for node in reversed(chain):
            base += 1
            if base > MAX_NESTING:
                parent[node] = None
                base = 0
            depth[node] = base
    return parent


def layout(canvas: Canvas, parent: dict[str, str | None] | None = None) -> dict[str, Rect]:
    """Absolute rectangles of every node (first occurrence of each id); ``parent``: the canvas's
    ``effective_parents`` when the caller has them already."""
    if parent is None:
        parent = effective_parents(canvas)
    first: dict[str, Node] = {}
    for n in canvas.nodes:
        first.setdefault(n.id, n)
    children: dict[str | None, list[str]] = {}
    for nid in first:
        children.setdefault(parent[nid], []).append(nid)
    depth: dict[str, int] = {}
    order: list[str] = []
    stack = [(nid, 0) for nid in children.get(None, [])]
    while stack:
        nid, d = stack.pop()
        depth[nid] = d
        order.append(nid)
        stack.extend((c, d + 1) for c in children.get(nid, []))

    lifted: dict[str | None, set[tuple[str, str]]] = {}
    for e in canvas.edges:
        if e.source not in first or e.target not in first or e.source == e.target:
            continue
        pair = _lift(e.source, e.target, parent, depth)
        if pair is not None:
            lifted.setdefault(parent[pair[0]], set()).add(pair)

    size: dict[str, tuple[float, float]] = {}
    rel: dict[str, tuple[float, float]] = {}
    for nid in sorted(order, key=lambda k: -depth[k]):
        node = first[nid]
        kids = children.get(nid)
        if not kids:
            size[nid] = (leaf_width(node.type, node.name), LEAF_H)
            continue
        w, h = _arrange(kids, lifted.get(nid, set()), size, first, rel)
        label_w = (len(node.type) + len(node.name) + 1) * CHAR_W + 2 * PAD
        size[nid] = (max(w + 2 * PAD, min(label_w, 600.0)), h + HEADER + PAD)
        for k in kids:
            x, y = rel[k]
            rel[k] = (x + PAD, y + HEADER)
    _arrange(children.get(None, []), lifted.get(None, set()), size, first, rel)
    rects: dict[str, Rect] = {}
    for nid in order:  # parents come before their children in this order
        x, y = rel[nid]
        p = parent[nid]
        if p is None:
            x, y = x + MARGIN, y + MARGIN
        else:
            x, y = x + rects[p].x, y + rects[p].y
        rects[nid] = Rect(x, y, *size[nid])
    return rects


def _lift(u: str, v: str, parent: dict[str, str | None], depth: dict[str, int]) -> tuple[str, str] | None:
    """The ancestors of u and v that are siblings (None when one contains the other)."""

    def up(x: str) -> str:
        p = parent[x]
        assert p is not None  # x is below the top level, so it has a parent
        return p

    while depth[u] > depth[v]:
        u = up(u)
    while depth[v] > depth[u]:
        v = up(v)
    while parent[u] != parent[v]:
        u, v = up(u), up(v)
    return None if u == v else (u, v)


def _arrange(
    members: list[str],
    edges: set[tuple[str, str]],
    size: dict[str, tuple[float, float]],
    nodes: dict[str, Node],
    rel: dict[str, tuple[float, float]],
) -> tuple[float, float]:
    """Place sibling ``members`` (relative to their parent's content area); return the (width,
    height) they occupy. Nodes with a canvas position are placed by it; the others get the layered
    layout, as a block to the right of or below the placed ones (whichever keeps the area smaller)."""
    if not members:
        return 0.0, 0.0
    where = {m: p for m in members if (p := canvas_position(nodes[m])) is not None}
    if not where:
        return _layered(members, edges, size, nodes, rel)
    pw, ph = _place(where, size, rel)
    free = [m for m in members if m not in where]
    if not free:
        return pw, ph
    free_set = set(free)
    aw, ah = _layered(free, {e for e in edges if e[0] in free_set and e[1] in free_set}, size, nodes, rel)
    beside = (pw + GAP_X + aw) * max(ph, ah)
    below = max(pw, aw) * (ph + GAP_X + ah)
    dx, dy = (pw + GAP_X, 0.0) if beside <= below else (0.0, ph + GAP_X)
    for m in free:
        x, y = rel[m]
        rel[m] = (x + dx, y + dy)
    return max(pw, dx + aw), max(ph, dy + ah)


def canvas_position(node: Node) -> tuple[float, float] | None:
    """The node's canvas position, bounded; None when it has none (or it is not a finite number)."""
    p = node.position
    if p is None or not (math.isfinite(p.x) and math.isfinite(p.y)):
        return None
    return (min(max(p.x, -MAX_COORDINATE), MAX_COORDINATE), min(max(p.y, -MAX_COORDINATE), MAX_COORDINATE))


def _place(
    where: dict[str, tuple[float, float]],
    size: dict[str, tuple[float, float]],
    rel: dict[str, tuple[float, float]],
) -> tuple[float, float]:
    """Place boxes at their canvas positions, keeping the order on each axis; return their extent.

    The positions are scaled (uniformly) only when the boxes cannot fit in their extent (canvases
    that count in grid units rather than pixels get spread out) or it is huge (compressed). Then,
    in order of x, each box goes at its scaled x, but never left of the box before it (one unit
    right of it when its canvas x is larger, so the order survives rounding) and right of every
    box already placed whose rows it shares (found through bands of ``BAND`` height). Rows (y) are
    kept as scaled, again with the order enforced. Boxes less than ``GAP_Y - BAND`` apart vertically
    end at least ``PLACED_GAP_X`` apart horizontally, so no two overlap and there is room between
    any two for an edge.
    """
    members = list(where)
    n = len(members)
    x0 = min(p[0] for p in where.values())
    y0 = min(p[1] for p in where.values())
    ex = max(p[0] for p in where.values()) - x0
    ey = max(p[1] for p in where.values()) - y0
    mw = sum(size[m][0] for m in members) / n
    mh = sum(size[m][1] for m in members) / n
    need = DENSITY * sum(size[m][0] * size[m][1] for m in members)
    # smallest s >= 1 with (s * ex + mw) * (s * ey + mh) >= need
    a, b, c = ex * ey, ex * mh + ey * mw, mw * mh - need
    if c >= 0:
        scale = 1.0
    elif a > 0:
        scale = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    elif b > 0:
        scale = -c / b
    else:
        scale = 1.0
    scale = max(1.0, scale)
    if max(ex, ey) * scale > MAX_EXTENT:
        scale = MAX_EXTENT / max(ex, ey)

    top: dict[str, float] = {}
    prev_y, prev_top = math.nan, -math.inf
    for m in sorted(members, key=lambda k: (where[k][1], where[k][0], k)):
        y = where[m][1]
        top[m] = max((y - y0) * scale, prev_top + (1.0 if y > prev_y else 0.0))
        prev_y, prev_top = y, top[m]

    reach: dict[int, float] = {}  # band -> where the boxes placed in it end, plus the gap
    prev_x, prev_left = math.nan, -math.inf
    width = height = 0.0
    for m in sorted(members, key=lambda k: (where[k][0], top[k], k)):
        x = where[m][0]
        w, h = size[m]
        y = top[m]
        left = max((x - x0) * scale, prev_left + (1.0 if x > prev_x else 0.0))
        # boxes less than GAP_Y - BAND apart share a band; GAP_Y apart (the layered layout) none
        for band in range(math.floor((y - GAP_Y + BAND) / BAND), math.ceil((y + h + GAP_Y - BAND) / BAND)):
            left = max(left, reach.get(band, left))
        end = left + w + PLACED_GAP_X
        for band in range(math.floor(y / BAND), math.ceil((y + h) / BAND)):
            if reach.get(band, -math.inf) < end:
                reach[band] = end
        rel[m] = (left, y)
        prev_x, prev_left = x, left
        width, height = max(width, left + w), max(height, y + h)
    return width, height


def _layered(
    members: list[str],
    edges: set[tuple[str, str]],
    size: dict[str, tuple[float, float]],
    nodes: dict[str, Node],
    rel: dict[str, tuple[float, float]],
) -> tuple[float, float]:
    """Place ``members`` in columns by layer; return the (width, height) they occupy."""
    graph = nx.DiGraph()
    graph.add_nodes_from(members)
    graph.add_edges_from(edges)
    cond = nx.condensation(graph)
    layer_of_comp: dict[int, int] = {}
    for comp in reversed(list(nx.topological_sort(cond))):
        succ = [layer_of_comp[s] for s in cond.successors(comp)]
        layer_of_comp[comp] = 1 + max(succ) if succ else 0
    mapping = cond.graph["mapping"]
    layers: dict[int, list[str]] = {}
    isolated = [m for m in members if graph.degree(m) == 0]
    top = max(layer_of_comp.values(), default=0) + 1 if len(isolated) < len(members) else 0
    for m in members:
        layer = top if graph.degree(m) == 0 else layer_of_comp[mapping[m]]
        layers.setdefault(layer, []).append(m)

    def key(nid: str) -> tuple[str, str]:
        return (nodes[nid].type, nodes[nid].name)

    rank: dict[str, float] = {}
    total_area = sum(size[m][0] * size[m][1] for m in members)
    max_col_h = max(MIN_COLUMN_HEIGHT, math.sqrt(total_area) * 1.2)
    x = 0.0
    height = 0.0
    for layer in sorted(layers):
        group = sorted(layers[layer], key=key)
        if layer > 0:
            bary = {}
            for m in group:
                targets = [rank[t] for t in graph.successors(m) if t in rank]
                bary[m] = sum(targets) / len(targets) if targets else math.inf
            group.sort(key=lambda m: (bary[m], key(m)))
        y, col_w = 0.0, 0.0
        for i, m in enumerate(group):
            w, h = size[m]
            if y > 0 and y + h > max_col_h:
                x += col_w + GAP_X / 2
                y, col_w = 0.0, 0.0
            rel[m] = (x, y)
            rank[m] = float(i)
            y += h + GAP_Y
            col_w = max(col_w, w)
            height = max(height, y - GAP_Y)
        x += col_w + GAP_X
    return x - GAP_X, height
