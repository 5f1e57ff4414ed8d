"""``OPTIONS`` answers with every method of the path.

Litestar builds a path's OPTIONS handler with the route made for the first handler registered on
that path, and the handler reads its ``Allow`` list from that route; routes made later for the same
path (as each further method is added) keep the old handler. So ``OPTIONS /tf/{org}/{state}/lock``
said ``OPTIONS, POST`` although DELETE is routed there too. ``repair_allow`` points every OPTIONS
handler at its path's final route.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.routes import HTTPRoute


def repair_allow(app: Litestar) -> None:
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "OPTIONS" not in route.route_handler_map:
            continue
        handler, _ = route.route_handler_map["OPTIONS"]
        for cell in handler.fn.__closure__ or ():
            if isinstance(cell.cell_contents, HTTPRoute) and cell.cell_contents is not route:
                cell.cell_contents = route
