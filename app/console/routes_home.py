"""Signing in and out, the console's front door, and organization switching."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from app.accounts.auth_service import AuthService
from app.accounts.middleware import connection_client
from app.accounts.schemas import LoginRequest
from app.console.forms import convert, form_fields, text
from app.console.gate import PUBLIC_OPT, session_cookie
from app.console.render import console_state, page, redirect, shell_for
from app.lib.errors import Unauthorized, ValidationFailed
from app.lib.principal import Principal

PUBLIC = {PUBLIC_OPT: True}
NextParam = Annotated[str | None, QueryParameter(name="next", max_length=2000)]


def _safe_next(target: str | None) -> str:
    """Only console paths of this site (never ``//host`` or a scheme): no open redirect."""
    if target and target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console"


def _auth(request: Request[Any, Any, Any]) -> AuthService:
    service: AuthService = request.app.state.auth_service
    return service


class HomeController(Controller):
    path = "/"

    @get("/", opt=PUBLIC)
    async def home(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Signed in: the first organization's designs (or how to get an organization)."""
        principal: Principal | None = console_state(request).principal
        if principal is None:
            return redirect("/console/sign-in")
        shell = await shell_for(request, None)
        if not shell.organizations:
            return await page(request, "no_orgs.html", shell=shell)
        return redirect(f"/console/orgs/{shell.organizations[0].slug}/designs")

    @get("/sign-in", opt=PUBLIC)
    async def sign_in_form(self, request: Request[Any, Any, Any], next_: NextParam = None) -> Response[Any]:
        if console_state(request).principal is not None:
            return redirect(_safe_next(next_))
        return await page(request, "sign_in.html", next=_safe_next(next_), email="", error=None)

    @post("/sign-in", opt=PUBLIC, status_code=303)
    async def sign_in(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """A session exactly like ``POST /api/v1/auth/login``, its tokens in the console cookie."""
        fields = await form_fields(request)
        target = _safe_next(text(fields, "next"))
        auth = _auth(request)
        try:
            data = convert(
                {"email": text(fields, "email"), "password": fields.get("password", "")}, LoginRequest
            )
            pair = await auth.login(data, connection_client(request, auth.settings.server.trusted_proxies))
        except (Unauthorized, ValidationFailed) as exc:
            return await page(
                request,
                "sign_in.html",
                next=target,
                email=text(fields, "email"),
                error=exc.detail,
                status_code=exc.status,
            )
        state = console_state(request)
        state.set_cookie(session_cookie(pair, state.https, auth.security.refresh_token_ttl))
        return redirect(target)

    @post("/sign-out", status_code=303)
    async def sign_out(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        """Revokes the session (as ``POST /api/v1/auth/logout``): its tokens stop working everywhere."""
        await _auth(request).logout(principal)
        state = console_state(request)
        state.set_cookie(session_cookie(None, state.https, 0))
        return redirect("/console/sign-in", "You are signed out.", request)

    @get("/orgs/{org:str}")
    async def org_home(self, org: FromPath[str]) -> Response[Any]:
        return redirect(f"/console/orgs/{org}/designs")
