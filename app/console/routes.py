"""The console's routes under ``/console``: its pages behind the console middleware, and its static
files (stylesheet, script, the pinned htmx), all served by Board3 itself and left out of the
OpenAPI document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.middleware import DefineMiddleware
from litestar.static_files import create_static_files_router

from app.accounts.auth_service import AuthService
from app.console.errors import EXCEPTION_HANDLERS
from app.console.gate import ConsoleDeps, ConsoleGate
from app.console.routes_designs import DesignPages
from app.console.routes_drift import DriftPages
from app.console.routes_home import HomeController
from app.console.routes_notifications import NotificationPages
from app.console.routes_org import OrganizationPages
from app.console.routes_pipelines import PipelinePages
from app.console.routes_states import StatePages
from app.console.session import CsrfTokens, Refresher

CONSOLE_PATH = "/console"
STATIC_DIR = Path(__file__).parent / "static"
CONTROLLERS: list[Any] = [
    HomeController,
    DesignPages,
    PipelinePages,
    StatePages,
    OrganizationPages,
    DriftPages,
    NotificationPages,
]


def console_routers(auth: AuthService, secret: str) -> list[Router]:
    """The console's page router and its static files (for the composition root)."""
    deps = ConsoleDeps(auth=auth, csrf=CsrfTokens(secret), refresher=Refresher(auth, secret))
    pages = Router(
        path=CONSOLE_PATH,
        route_handlers=CONTROLLERS,
        middleware=[DefineMiddleware(ConsoleGate, deps=deps)],
        exception_handlers=EXCEPTION_HANDLERS,
        include_in_schema=False,
    )
    static = create_static_files_router(
        path=f"{CONSOLE_PATH}/static",
        directories=[STATIC_DIR],
        name="console-static",
        cache_control=CacheControlHeader(public=True, max_age=3600),
        include_in_schema=False,
    )
    return [pages, static]
