"""SVG diagram of a design: layered layout, parents drawn around children, arrows for edges.

Highlighted nodes (plan changes, a selection) get a distinct outline and fill and the ``highlight``
class; nodes a drift check found changed or deleted outside Terraform get a dashed outline of their
own, a ``drift-changed`` or ``drift-deleted`` class and a legend.
Every label is XML-escaped and truncated to its box; characters XML cannot carry are
dropped, so no canvas text can inject markup.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from app.terraform.canvas import Canvas, Node
from app.terraform.catalog import Catalog
from app.terraform.layout import CHAR_W, HEADER, MARGIN, Rect, effective_parents, layout

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
# drift mark -> (fill, stroke, legend text)
DRIFT_STYLES = {
    "changed": ("#fff9db", "#e67700", "changed outside Terraform"),
    "deleted": ("#fff5f5", "#c92a2a", "deleted outside Terraform"),
}
LEGEND_H = 34.0
_DASHED = ' stroke-dasharray="6 3"'


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
    """A readable SVG of the design; node ids in ``highlight`` are drawn distinctly, and with
    ``drift`` (node id -> ``changed`` | ``deleted``) drifted nodes are marked under a legend."""
    marks = {k: v for k, v in (drift or {}).items() if v in DRIFT_STYLES}
    parent = effective_parents(canvas)
    rects = layout(canvas, parent)
    nodes: dict[str, Node] = {}
    for n in canvas.nodes:
        nodes.setdefault(n.id, n)
    containers = {p for p in parent.values() if p is not None}
    width = max((r.x + r.w for r in rects.values()), default=0.0) + MARGIN
    height = max((r.y + r.h for r in rects.values()), default=0.0) + MARGIN
    legend_y = height
    if drift is not None:
        width = max(width, 470.0)
        height += LEGEND_H
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#607d8b"/></marker>'
        "</defs>",
        f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
    ]

    def depth(nid: str) -> int:
        d, cur = 0, parent.get(nid)
        while cur is not None:
            d, cur = d + 1, parent.get(cur)
        return d

    for nid in sorted(containers, key=lambda k: (depth(k), k)):
        out.append(_container(nodes[nid], rects[nid], catalog, nid in highlight, marks.get(nid)))
    out.append('<g class="edges" fill="none" stroke="#607d8b" stroke-width="1.4">')
    for e in canvas.edges:
        if e.source in rects and e.target in rects and e.source != e.target:
            if _related(e.source, e.target, parent):
                continue
            dashed = ' stroke-dasharray="5 4"' if e.attribute == "depends_on" else ""
            out.append(
                f'<path d="{_edge_path(rects[e.source], rects[e.target])}" marker-end="url(#arrow)"{dashed}/>'
            )
    out.append("</g>")
    for nid, node in nodes.items():
        if nid not in containers:
            out.append(_leaf(node, rects[nid], catalog, nid in highlight, marks.get(nid)))
    if drift is not None:
        out.append(_legend(legend_y))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _related(a: str, b: str, parent: dict[str, str | None]) -> bool:
    """True when one node contains the other (the nesting already shows that edge)."""
    for x, y in ((a, b), (b, a)):
        cur = parent.get(x)
        while cur is not None:
            if cur == y:
                return True
            cur = parent.get(cur)
    return False


def _legend(y: float) -> str:
    items = []
    x = MARGIN
    for fill, stroke, text in DRIFT_STYLES.values():
        items.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="18" height="14" rx="3" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="2.5" stroke-dasharray="5 3"/>'
            f'<text x="{x + 24:.1f}" y="{y + 11:.1f}" font-size="11" fill="#263238">{text}</text>'
        )
        x += 210
    return f'<g class="drift-legend">{"".join(items)}</g>'


def _colors(node: Node, catalog: Catalog, highlighted: bool, mark: str | None = None) -> tuple[str, str, str]:
    if mark is not None:
        fill, stroke, _ = DRIFT_STYLES[mark]
        return fill, stroke, "3"
    fill, stroke = _COLORS.get(_category(node, catalog), _DEFAULT_COLORS)
    if highlighted:
        return HIGHLIGHT_FILL, HIGHLIGHT_STROKE, "3"
    return fill, stroke, "1.5"


def _classes(base: str, highlighted: bool, mark: str | None) -> str:
    return base + (" highlight" if highlighted else "") + (f" drift-{mark}" if mark else "")


def _leaf(node: Node, r: Rect, catalog: Catalog, highlighted: bool, mark: str | None = None) -> str:
    fill, stroke, sw = _colors(node, catalog, highlighted, mark)
    cls = _classes("node", highlighted, mark)
    type_label = xml_text(_fit(node.type, r.w - 16, 6.2))
    name = xml_text(_fit(node.name, r.w - 16, 7.6))
    nid = xml_text(node.id)
    full = xml_text(f"{node.type}.{node.name}")
    return (
        f'<g class="{cls}" data-node-id="{nid}"><title>{full}</title>'
        f'<rect data-node-id="{nid}" x="{r.x:.1f}" y="{r.y:.1f}" width="{r.w:.1f}" height="{r.h:.1f}" rx="6" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}"{_DASHED if mark else ""}/>'
        f'<text x="{r.x + 8:.1f}" y="{r.y + 18:.1f}" font-size="11" fill="#546e7a">{type_label}</text>'
        f'<text x="{r.x + 8:.1f}" y="{r.y + 36:.1f}" font-size="13" font-weight="bold" '
        f'fill="#263238">{name}</text>'
        "</g>"
    )


def _container(node: Node, r: Rect, catalog: Catalog, highlighted: bool, mark: str | None = None) -> str:
    fill, stroke, sw = _colors(node, catalog, highlighted, mark)
    cls = _classes("container", highlighted, mark)
    label = xml_text(_fit(f"{node.type} {node.name}", r.w - 16))
    nid = xml_text(node.id)
    return (
        f'<g class="{cls}" data-node-id="{nid}"><title>{xml_text(node.type + "." + node.name)}</title>'
        f'<rect data-node-id="{nid}" x="{r.x:.1f}" y="{r.y:.1f}" width="{r.w:.1f}" height="{r.h:.1f}" rx="8" '
        f'fill="{fill}" fill-opacity="0.55" stroke="{stroke}" stroke-width="{sw}"{_DASHED if mark else ""}/>'
        f'<text x="{r.x + 10:.1f}" y="{r.y + HEADER - 9:.1f}" font-size="12" font-weight="bold" '
        f'fill="{stroke}">{label}</text></g>'
    )


def _edge_path(src: Rect, dst: Rect) -> str:
    """A curve from the source's side to the target's facing side (dependencies sit on the left)."""
    sy, dy = src.y + src.h / 2, dst.y + dst.h / 2
    if dst.x + dst.w <= src.x:
        x1, x2 = src.x, dst.x + dst.w
    elif src.x + src.w <= dst.x:
        x1, x2 = src.x + src.w, dst.x
    else:
        x1, x2 = src.x + src.w / 2, dst.x + dst.w / 2
        sy = src.y + (src.h if dst.y > src.y else 0.0)
        dy = dst.y + (0.0 if dst.y > src.y else dst.h)
        mid = (sy + dy) / 2
        return f"M {x1:.1f} {sy:.1f} C {x1:.1f} {mid:.1f} {x2:.1f} {mid:.1f} {x2:.1f} {dy:.1f}"
    mid = (x1 + x2) / 2
    return f"M {x1:.1f} {sy:.1f} C {mid:.1f} {sy:.1f} {mid:.1f} {dy:.1f} {x2:.1f} {dy:.1f}"
