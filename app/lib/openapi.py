"""The API's own documentation: ReDoc at ``/schema``, Swagger UI at ``/schema/swagger``, the
document at ``/schema/openapi.json``.

The viewers' JavaScript and CSS come from the pinned ``openapi-ui-bundles`` package and are served
by Board3 under ``/schema/assets``, so the pages work offline and load nothing from a CDN. (The
``swagger-ui-bundle`` package's newest release ships Swagger UI 4, which cannot show an OpenAPI 3.1
document such as Litestar's; ``openapi-ui-bundles`` ships Swagger UI 5 and ReDoc, with no
dependencies.)
"""

from __future__ import annotations

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    RedocRenderPlugin,
    SwaggerRenderPlugin,
)
from litestar.static_files import create_static_files_router
from openapi_ui_bundles import redoc, swagger_ui

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
