"""What every authenticated route may answer besides its own responses, in the OpenAPI document.

The auth middleware and the request gate run before any handler: a missing or revoked credential
is 401, a caller over the API rate limit 429, and an unreachable Redis (or a process at its limit
of request bodies in flight) 503 with ``Retry-After``. Routes describe their own outcomes; these
are added to each authenticated route once the application is built (``add_common_responses``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec

from app.lib.schema import ProblemDetails

PROBLEM = "application/problem+json"


def problem_spec(description: str) -> ResponseSpec:
    """An OpenAPI response: a problem+json body described by ``description``."""
    return ResponseSpec(ProblemDetails, description=description, media_type=PROBLEM, generate_examples=False)


COMMON_RESPONSES: dict[int, ResponseSpec] = {
    401: problem_spec("No valid credential: missing, malformed, expired or revoked token or API key"),
    429: problem_spec("API rate limit exceeded; `Retry-After` says in how many seconds to retry"),
    503: problem_spec(
        "Temporarily unavailable: a backing service (Redis) is unreachable, or this server holds as "
        "many request bodies as it may at once; `Retry-After` says in how many seconds to retry"
    ),
}


def add_common_responses(app: Litestar, public_paths: Sequence[str]) -> None:
    """Add ``COMMON_RESPONSES`` to every route that requires authentication (a route's own
    description of a status wins)."""
    public = [re.compile(p) for p in public_paths]
    for route in app.routes:
        if any(p.search(route.path) for p in public):
            continue
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler) and not handler.opt.get("exclude_from_auth"):
                handler.responses = {**COMMON_RESPONSES, **(handler.responses or {})}
