"""The API's own documentation: ReDoc at ``/schema``, Swagger UI at ``/schema/swagger``, the
document at ``/schema/openapi.json``, and the problem responses every operation documents.

The viewers' JavaScript and CSS come from the pinned ``openapi-ui-bundles`` package and are served
by Board3 under ``/schema/assets``, so the pages work offline and load nothing from a CDN. (The
``swagger-ui-bundle`` package's newest release ships Swagger UI 4, which cannot show an OpenAPI 3.1
document such as Litestar's; ``openapi-ui-bundles`` ships Swagger UI 5 and ReDoc, with no
dependencies.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from litestar import Litestar, Router
from litestar.datastructures import CacheControlHeader
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    RedocRenderPlugin,
    SwaggerRenderPlugin,
)
from litestar.openapi.spec import Operation
from litestar.params import HeaderParameter
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from openapi_ui_bundles import redoc, swagger_ui

from app.lib.problem import PROBLEM_JSON
from app.lib.schema import ProblemDetails

SCHEMA_PATH = "/schema"
ASSETS_PATH = f"{SCHEMA_PATH}/assets"
_REDOC = f"{ASSETS_PATH}/redoc"
_SWAGGER = f"{ASSETS_PATH}/swagger-ui"


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """ReDoc (the default page), Swagger UI and the JSON document, every asset a local URL."""
    favicon = f"<link rel='icon' type='image/png' href='{_SWAGGER}/favicon-32x32.png'>"
    return [
        RedocRenderPlugin(
            path="/", js_url=f"{_REDOC}/redoc.standalone.js", google_fonts=False, favicon=favicon
        ),
        SwaggerRenderPlugin(
            path="/swagger",
            js_url=f"{_SWAGGER}/swagger-ui-bundle.js",
            css_url=f"{_SWAGGER}/swagger-ui.css",
            standalone_preset_js_url=f"{_SWAGGER}/swagger-ui-standalone-preset.js",
            favicon=favicon,
        ),
        JsonRenderPlugin(),
    ]


def asset_routers() -> list[Router]:
    """The viewers' files (public, like the pages that load them)."""
    cache = CacheControlHeader(public=True, max_age=3600)
    return [
        create_static_files_router(
            path=_REDOC, directories=[redoc.static_path], name="redoc-assets", cache_control=cache
        ),
        create_static_files_router(
            path=_SWAGGER, directories=[swagger_ui.static_path], name="swagger-assets", cache_control=cache
        ),
    ]


# The problem responses most operations share, and the fact about an operation that makes each
# possible. Statuses an operation documents itself (its own wording, a body of its own) win.
_PROBLEMS: dict[int, str] = {
    400: "Malformed JSON or credentials, or a path, query or header value of the wrong type (`errors` "
    "names it)",
    401: "No credential, or an expired, revoked or wrong one",
    403: "Signed in, but lacking the permission this needs (or, for an API key, the scope)",
    404: "No such object, or one of another organization",
    409: "Conflicts with the object's current state: a name already taken, a stale base version, a lock",
    412: "`If-Match` names a representation that is no longer current",
    413: "Body larger than `BOARD3_MAX_BODY_BYTES`, or a canvas beyond `BOARD3_MAX_NODES` / "
    "`BOARD3_MAX_EDGES`; the detail names the limit",
    422: "Well-formed JSON with unacceptable values; `errors` lists every failing field",
    429: "Too many requests (`BOARD3_RATE_LIMIT_API`, `BOARD3_RATE_LIMIT_AUTH`); see `Retry-After`",
    503: "A service Board3 needs (database, Redis) is unreachable, or the process holds as many request "
    "bodies as it may (`BOARD3_MAX_INFLIGHT_BODY_BYTES`); retry after `Retry-After` seconds",
}
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class PublicOperation(Operation):
    """An operation anyone may call: ``security: []`` overrides the document's default bearer token
    (Litestar omits an empty security list, which would inherit that default)."""

    def __post_init__(self) -> None:
        self.security = []


def problem_spec(description: str) -> ResponseSpec:
    """A documented problem+json response (for an operation's own statuses or wording)."""
    return ResponseSpec(
        ProblemDetails, description=description, media_type=PROBLEM_JSON, generate_examples=False
    )


def _problem_statuses(handler: HTTPRouteHandler, route: HTTPRoute) -> set[int]:
    """The shared problem statuses an operation can answer, from what it takes and does."""
    body = "data" in handler.parsed_fn_signature.parameters
    public = bool(handler.opt.get("exclude_from_auth"))
    statuses = {400, 401, 429, 503} | ({403} if not public else set())
    if route.path_parameters:
        statuses.add(404)
    if _WRITES & set(handler.http_methods) and not public:
        statuses.add(409)
    if body:
        statuses |= {413, 422}
    headers = [
        (p.kwarg_definition.name or "").lower()
        for p in handler.parsed_fn_signature.parameters.values()
        if isinstance(p.kwarg_definition, HeaderParameter)
    ]
    if "if-match" in headers:
        statuses.add(412)
    return statuses


def document_responses(app: Litestar, public_paths: list[str]) -> None:
    """Document the problem+json answers of every operation in one place, before the OpenAPI
    document is first built: each operation gets the shared problem statuses that apply to it, and
    the public ones (``public_paths``, ``exclude_from_auth``) ``security: []``. Paths matching
    ``public_paths`` (health, metrics, the documentation) have no shared problems."""
    infrastructure = [re.compile(p) for p in public_paths]
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema() or "OPTIONS" in handler.http_methods:
                continue
            infra = any(p.search(route.path) for p in infrastructure)
            if (infra or handler.opt.get("exclude_from_auth")) and handler.operation_class is Operation:
                handler.operation_class = PublicOperation
            if infra:
                continue
            responses = dict(handler.responses or {})
            for status in sorted(_problem_statuses(handler, route) - set(responses)):
                responses[status] = problem_spec(_PROBLEMS[status])
            handler.responses = responses
