"""SVG diagram of a design: boxes where the canvas put them (else a layered layout), parents drawn
around children, arrows routed around the boxes in their way.

Highlighted nodes (plan changes, a selection) get a distinct outline and fill and the
``highlight`` class. Drifted nodes get a mark that reads without colour: a dashed border and a
"drifted" tag when changed outside Terraform, a hatched, crossed box with a dotted border and a
"deleted" tag when deleted; a legend below the drawing explains the marks shown. Every label is
XML-escaped and truncated to its box; characters XML cannot carry are dropped, so no canvas text
can inject markup. Pure and deterministic: the same input gives the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from app.terraform.canvas import Canvas, Node
from app.terraform.catalog import Catalog
from app.terraform.layout import CHAR_W, HEADER, MARGIN, Rect, effective_parents, layout
from app.terraform.routing import Point, Router

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_COLORS = {
    "networking": ("#e7f1ff", "#1c64c8"),
    "compute": ("#fff3e0", "#c56a00"),
    "storage": ("#e8f5e9", "#2e7d32"),
    "databases": ("#f3e5f5", "#7b1fa2"),
    "load_balancers": ("#e0f7fa", "#00838f"),
    "iam": ("#fce4ec", "#ad1457"),
    "security": ("#fce4ec", "#ad1457"),
    "dns": ("#f1f8e9", "#558b2f"),
    "serverless": ("#fffde7", "#a68a00"),
    "management": ("#f5f5f5", "#616161"),
    "monitoring": ("#f5f5f5", "#616161"),
    "module": ("#ede7f6", "#4527a0"),
    "variable": ("#fafafa", "#757575"),
    "output": ("#fafafa", "#757575"),
}
_DEFAULT_COLORS = ("#ffffff", "#455a64")
HIGHLIGHT_FILL = "#fff4e5"
HIGHLIGHT_STROKE = "#e8590c"

CHANGED, DELETED = "changed", "deleted"
# what a drift mapping may say, to the mark it gets ("update"/"delete" are a plan's action names)
DRIFT_KINDS = {"changed": CHANGED, "update": CHANGED, "deleted": DELETED, "delete": DELETED}
_DRIFT_STROKE = {CHANGED: "#b45309", DELETED: "#c62828"}
_DRIFT_DASH = {CHANGED: "7 4", DELETED: "2 3"}
_DRIFT_TAG = {CHANGED: "drifted", DELETED: "deleted"}
_DRIFT_MEANING = {
    CHANGED: "changed outside Terraform (dashed border, \u201cdrifted\u201d tag)",
    DELETED: "deleted outside Terraform (dotted border, hatched and crossed, \u201cdeleted\u201d tag)",
}
LEGEND_ROW = 24.0
LEGEND_W = 520.0


def xml_text(text: str) -> str:
    """Escape for XML text and attribute values; drop characters XML 1.0 forbids."""
    text = _XML_INVALID.sub("", text)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def _fit(text: str, width: float, char_w: float = CHAR_W) -> str:
    limit = max(3, int(width / char_w))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _category(node: Node, catalog: Catalog) -> str:
    if node.type.startswith("module."):
        return "module"
    if node.type in ("variable", "output"):
        return node.type
    ntype = catalog.get(node.type)
    return ntype.spec.category if ntype else "other"


def render_svg(
    canvas: Canvas,
    catalog: Catalog,
    highlight: Collection[str] = frozenset(),
    drift: Mapping[str, str] | None = None,
) -> str:
    """A readable SVG of the design. Node ids in ``highlight`` are drawn distinctly; ``drift`` maps
    node ids to ``"changed"`` or ``"deleted"`` (``"update"``/``"delete"`` too) and draws those nodes
    with the matching drift mark, plus a legend. Ids not in the canvas and other values are ignored."""
    parent = effective_parents(canvas)
    rects = layout(canvas, parent)
    nodes: dict[str, Node] = {}
    for n in canvas.nodes:
        nodes.setdefault(n.id, n)
    marks = {
        nid: DRIFT_KINDS[kind] for nid, kind in (drift or {}).items() if nid in nodes and kind in DRIFT_KINDS
    }
    shown = [kind for kind in (CHANGED, DELETED) if kind in marks.values()]
    containers = {p for p in parent.values() if p is not None}
    width = max((r.x + r.w for r in rects.values()), default=0.0) + MARGIN
    height = max((r.y + r.h for r in rects.values()), default=0.0) + MARGIN
    router = Router(rects, parent, width, height)
    total_w = max(width, LEGEND_W + 2 * MARGIN) if shown else width
    total_h = height + (_legend_height(shown) + MARGIN if shown else 0.0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" height="{total_h:.0f}" '
        f'viewBox="0 0 {total_w:.0f} {total_h:.0f}" font-family="Helvetica, Arial, sans-serif">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#607d8b"/></marker>'
        '<pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="8" height="8" fill="#f5f5f5"/>'
        '<line x1="0" y1="0" x2="0" y2="8" stroke="#cfd8dc" stroke-width="3"/></pattern>'
        "</defs>",
        f'<rect x="0" y="0" width="{total_w:.0f}" height="{total_h:.0f}" fill="#ffffff"/>',
    ]

    def depth(nid: str) -> int:
        d, cur = 0, parent.get(nid)
        while cur is not None:
            d, cur = d + 1, parent.get(cur)
        return d

    for nid in sorted(containers, key=lambda k: (depth(k), k)):
        out.append(_container(nodes[nid], rects[nid], catalog, nid in highlight, marks.get(nid)))
    out.append('<g class="edges" fill="none" stroke="#607d8b" stroke-width="1.4" stroke-linejoin="round">')
    routes: dict[tuple[str, str], list[Point]] = {}
    for e in canvas.edges:
        if e.source in rects and e.target in rects and e.source != e.target:
            if _related(e.source, e.target, parent):
                continue
            key = (e.source, e.target)
            if key not in routes:
                routes[key] = router.route(*key)
            dashed = ' stroke-dasharray="5 4"' if e.attribute == "depends_on" else ""
            out.append(
                f'<path data-source="{xml_text(e.source)}" data-target="{xml_text(e.target)}" '
                f'd="{_path(routes[key])}" marker-end="url(#arrow)"{dashed}/>'
            )
    out.append("</g>")
    for nid, node in nodes.items():
        if nid not in containers:
            out.append(_leaf(node, rects[nid], catalog, nid in highlight, marks.get(nid)))
    if shown:
        out.append(_legend(shown, MARGIN, height))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _path(points: list[Point]) -> str:
    return "M " + " L ".join(f"{x:.1f} {y:.1f}" for x, y in points)


def _legend_height(kinds: list[str]) -> float:
    return 30.0 + LEGEND_ROW * len(kinds)


def _legend(kinds: list[str], x: float, y: float) -> str:
    """What the drift marks mean, for the marks the drawing uses."""
    parts = [
        f'<g class="legend"><rect x="{x:.1f}" y="{y:.1f}" width="{LEGEND_W:.1f}" '
        f'height="{_legend_height(kinds):.1f}" rx="6" fill="#ffffff" stroke="#90a4ae"/>',
        f'<text x="{x + 10:.1f}" y="{y + 18:.1f}" font-size="12" font-weight="bold" fill="#263238">'
        "Drift since the last apply</text>",
    ]
    for i, kind in enumerate(kinds):
        ry = y + 28 + i * LEGEND_ROW
        sample = Rect(x + 10, ry, 70, 16)
        parts.append(
            f'<g class="legend-entry" data-drift="{kind}">'
            + _mark_box(sample, "#ffffff", kind, 3)
            + _tag(sample, kind)
            + f'<text x="{x + 90:.1f}" y="{ry + 12:.1f}" font-size="11" fill="#263238">'
            f"{xml_text(_DRIFT_MEANING[kind])}</text></g>"
        )
    parts.append("</g>")
    return "".join(parts)


def _related(a: str, b: str, parent: dict[str, str | None]) -> bool:
    """True when one node contains the other (the nesting already shows that edge)."""
    for x, y in ((a, b), (b, a)):
        cur = parent.get(x)
        while cur is not None:
            if cur == y:
                return True
            cur = parent.get(cur)
    return False


def _colors(node: Node, catalog: Catalog, highlighted: bool) -> tuple[str, str, str]:
    fill, stroke = _COLORS.get(_category(node, catalog), _DEFAULT_COLORS)
    if highlighted:
        return HIGHLIGHT_FILL, HIGHLIGHT_STROKE, "3"
    return fill, stroke, "1.5"


def _classes(base: str, highlighted: bool, mark: str | None) -> str:
    """The group's class and, for a drifted node, its ``data-drift`` attribute."""
    cls = base + (" highlight" if highlighted else "") + (f" drift-{mark}" if mark else "")
    return f'class="{cls}"' + (f' data-drift="{mark}"' if mark else "")


def _paint(fill: str, stroke: str, sw: str, mark: str | None) -> str:
    """Fill and stroke of a box; drift marks override them with a pattern that survives greyscale."""
    if mark is None:
        return f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}"'
    fill = "url(#hatch)" if mark == DELETED else fill
    return (
        f'fill="{fill}" stroke="{_DRIFT_STROKE[mark]}" stroke-width="2.5" '
        f'stroke-dasharray="{_DRIFT_DASH[mark]}"'
    )


def _mark_box(r: Rect, fill: str, mark: str, rx: int) -> str:
    """A box drawn with a drift mark (the legend's samples)."""
    box = (
        f'<rect x="{r.x:.1f}" y="{r.y:.1f}" width="{r.w:.1f}" height="{r.h:.1f}" rx="{rx}" '
        f"{_paint(fill, '', '', mark)}/>"
    )
    return box + (_cross(r) if mark == DELETED else "")


def _cross(r: Rect) -> str:
    """Two diagonals across a deleted box."""
    attrs = f'stroke="{_DRIFT_STROKE[DELETED]}" stroke-width="1.2" stroke-opacity="0.6"'
    return (
        f'<line x1="{r.x:.1f}" y1="{r.y:.1f}" x2="{r.x + r.w:.1f}" y2="{r.y + r.h:.1f}" {attrs}/>'
        f'<line x1="{r.x:.1f}" y1="{r.y + r.h:.1f}" x2="{r.x + r.w:.1f}" y2="{r.y:.1f}" {attrs}/>'
    )


def _tag(r: Rect, mark: str) -> str:
    """The drift tag, astride the top right corner of the box."""
    text = _DRIFT_TAG[mark]
    color = _DRIFT_STROKE[mark]
    w = len(text) * 6.0 + 12
    x = r.x + r.w - w - 6
    return (
        f'<g class="drift-tag"><rect x="{x:.1f}" y="{r.y - 7:.1f}" width="{w:.1f}" height="14" rx="7" '
        f'fill="#ffffff" stroke="{color}" stroke-width="1.2"/>'
        f'<text x="{x + w / 2:.1f}" y="{r.y + 3.5:.1f}" font-size="9.5" font-weight="bold" '
        f'text-anchor="middle" fill="{color}">{text}</text></g>'
    )


def _leaf(node: Node, r: Rect, catalog: Catalog, highlighted: bool, mark: str | None = None) -> str:
    fill, stroke, sw = _colors(node, catalog, highlighted)
    type_label = xml_text(_fit(node.type, r.w - 16, 6.2))
    name = xml_text(_fit(node.name, r.w - 16, 7.6))
    nid = xml_text(node.id)
    full = xml_text(f"{node.type}.{node.name}")
    gone = mark == DELETED
    type_color, name_color = ("#78909c", "#78909c") if gone else ("#546e7a", "#263238")
    parts = [
        f'<g {_classes("node", highlighted, mark)} data-node-id="{nid}"><title>{full}</title>'
        f'<rect data-node-id="{nid}" x="{r.x:.1f}" y="{r.y:.1f}" width="{r.w:.1f}" height="{r.h:.1f}" rx="6" '
        f"{_paint(fill, stroke, sw, mark)}/>"
    ]
    if gone:
        parts.append(_cross(r))
    parts.append(
        f'<text x="{r.x + 8:.1f}" y="{r.y + 18:.1f}" font-size="11" fill="{type_color}">{type_label}</text>'
        f'<text x="{r.x + 8:.1f}" y="{r.y + 36:.1f}" font-size="13" font-weight="bold" '
        f'fill="{name_color}">{name}</text>'
    )
    if gone:  # the name struck through
        end = r.x + 8 + min(len(_fit(node.name, r.w - 16, 7.6)) * 7.6, r.w - 16)
        parts.append(
            f'<line x1="{r.x + 6:.1f}" y1="{r.y + 31:.1f}" x2="{end + 2:.1f}" y2="{r.y + 31:.1f}" '
            f'stroke="{_DRIFT_STROKE[DELETED]}" stroke-width="1.5"/>'
        )
    if mark:
        parts.append(_tag(r, mark))
    parts.append("</g>")
    return "".join(parts)


def _container(node: Node, r: Rect, catalog: Catalog, highlighted: bool, mark: str | None = None) -> str:
    fill, stroke, sw = _colors(node, catalog, highlighted)
    label = xml_text(_fit(f"{node.type} {node.name}", r.w - 16))
    nid = xml_text(node.id)
    label_color = "#78909c" if mark == DELETED else stroke
    return (
        f'<g {_classes("container", highlighted, mark)} data-node-id="{nid}">'
        f"<title>{xml_text(node.type + '.' + node.name)}</title>"
        f'<rect data-node-id="{nid}" x="{r.x:.1f}" y="{r.y:.1f}" width="{r.w:.1f}" height="{r.h:.1f}" rx="8" '
        f'fill-opacity="0.55" {_paint(fill, stroke, sw, mark)}/>'
        f'<text x="{r.x + 10:.1f}" y="{r.y + HEADER - 9:.1f}" font-size="12" font-weight="bold" '
        f'fill="{label_color}">{label}</text>' + (_tag(r, mark) if mark else "") + "</g>"
    )
