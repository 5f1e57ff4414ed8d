"""The console's middleware: who is signed in (the session cookie, refreshed when its access token
has expired), CSRF on every unsafe request, and the security headers of every console response.

It runs on the console's routes only (the API keeps its bearer tokens and never reads a cookie).
The principal it finds is what the API's ``principal`` dependency hands the handlers, so console
pages call the services exactly as the API's controllers do.
"""

from __future__ import annotations

import ipaddress
import logging
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import RequestEncodingType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.accounts.auth_service import AuthService
from app.accounts.middleware import connection_client
from app.accounts.schemas import TokenPair
from app.console.errors import error_response
from app.console.session import (
    ANON_COOKIE,
    COOKIE_PATH,
    CSRF_FIELD,
    CSRF_HEADER,
    FLASH_COOKIE,
    SESSION_COOKIE,
    CookieTokens,
    CsrfTokens,
    Refresher,
    is_refreshable,
    new_anonymous_binding,
)
from app.lib import runtime
from app.lib.errors import AppError, Forbidden, TooManyRequests
from app.lib.principal import Principal

log = logging.getLogger("board3.console")

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_OPT = "console_public"
SIGN_IN = f"{COOKIE_PATH}/sign-in"


class CsrfRefused(Forbidden):
    code = "csrf-failed"
    title = "Form expired"


@dataclass
class ConsoleState:
    """What the middleware decided, for the handler and templates (``scope["state"]["console"]``)."""

    csrf_token: str
    https: bool
    principal: Principal | None = None
    session_ended: bool = False
    cookies: list[Cookie] = field(default_factory=list)

    def set_cookie(self, cookie: Cookie) -> None:
        self.cookies = [c for c in self.cookies if c.key != cookie.key] + [cookie]


@dataclass(frozen=True, slots=True)
class ConsoleDeps:
    """Built by the composition root: the auth service, the CSRF key and the refresher."""

    auth: AuthService
    csrf: CsrfTokens
    refresher: Refresher

    def __deepcopy__(self, memo: dict[int, Any]) -> ConsoleDeps:
        return self  # shared by design (Litestar copies middleware arguments per route)


def is_https(scope: Scope, auth: AuthService) -> bool:
    """Secure cookies when the browser talks https: the configured public URL says so, or the
    request came over https (directly, or through a trusted proxy's ``X-Forwarded-Proto``)."""
    server = auth.settings.server
    if (server.public_url or "").startswith("https://") or scope.get("scheme") == "https":
        return True
    peer = (scope.get("client") or ("",))[0]
    if not peer or not server.trusted_proxies or not _peer_trusted(peer, server.trusted_proxies):
        return False
    for key, value in scope.get("headers", []):
        if key == b"x-forwarded-proto":
            return bool(value.decode("latin-1").split(",")[0].strip().lower() == "https")
    return False


def _peer_trusted(peer: str, trusted: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    for entry in trusted:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def session_cookie(pair: TokenPair | None, https: bool, max_age: int) -> Cookie:
    """The session cookie carrying ``pair``, or one that deletes it (``pair`` None)."""
    return Cookie(
        key=SESSION_COOKIE,
        value=CookieTokens(pair.access_token, pair.refresh_token).encode() if pair else "",
        path=COOKIE_PATH,
        max_age=max_age if pair else 0,
        httponly=True,
        secure=https,
        samesite="lax",
    )


def plain_cookie(key: str, value: str, https: bool, max_age: int) -> Cookie:
    return Cookie(
        key=key, value=value, path=COOKIE_PATH, max_age=max_age, httponly=True, secure=https, samesite="lax"
    )


class ConsoleGate:
    def __init__(self, app: ASGIApp, deps: ConsoleDeps) -> None:
        self.app = app
        self.deps = deps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request: Any = scope["litestar_app"].request_class(scope=scope, receive=receive)
        https = is_https(scope, self.deps.auth)
        state = ConsoleState(csrf_token="", https=https)
        scope.setdefault("state", {})["console"] = state
        sent_headers = _response_headers(state)
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableScopeHeaders.from_message(message)
                for key, value in sent_headers():
                    headers.add(key, value)
                if "cache-control" not in headers:
                    headers.add("cache-control", "private, no-store")
            await send(message)

        try:
            await self._admit(request, state, scope, receive, send_wrapper)
        except Exception as exc:
            if started:
                raise
            # Answered here rather than by the route's exception handling, so that an error page
            # too carries the security headers and any cookie set meanwhile (a refreshed session).
            response = error_response(request, exc)
            await response.to_asgi_response(app=None, request=request)(scope, receive, send_wrapper)

    async def _admit(
        self, request: Any, state: ConsoleState, scope: Scope, receive: Receive, send: Send
    ) -> None:
        principal = await self._principal(request, state)
        if principal is not None:
            scope["user"] = principal
            scope["auth"] = principal.kind
            scope["state"]["principal_label"] = principal.label
            binding = f"s:{principal.session_id}"
        else:
            anon = request.cookies.get(ANON_COOKIE)
            if not anon or len(anon) > 64:
                anon = new_anonymous_binding()
                state.set_cookie(plain_cookie(ANON_COOKIE, anon, state.https, 86400))
            binding = f"a:{anon}"
        state.csrf_token = self.deps.csrf.token(binding)

        handler = scope.get("route_handler")
        public = bool(handler is not None and handler.opt.get(PUBLIC_OPT))
        if principal is None and not public:
            await _to_sign_in(request, state, scope, receive, send)
            return
        if request.method not in SAFE_METHODS:
            presented = request.headers.get(CSRF_HEADER)
            if not presented and request.content_type[0] in (
                RequestEncodingType.URL_ENCODED,
                RequestEncodingType.MULTI_PART,
            ):
                form = await request.form()
                value = form.get(CSRF_FIELD)
                presented = value if isinstance(value, str) else None
            if not self.deps.csrf.valid(binding, presented):
                raise CsrfRefused(
                    "this form was not sent from a Board3 console page, or it expired; reload the page "
                    "and try again"
                )
        await self.app(scope, receive, send)

    async def _principal(self, request: Any, state: ConsoleState) -> Principal | None:
        tokens = CookieTokens.decode(request.cookies.get(SESSION_COOKIE))
        if tokens is None:
            if request.cookies.get(SESSION_COOKIE) is not None:
                state.set_cookie(session_cookie(None, state.https, 0))
            return None
        auth = self.deps.auth
        client = connection_client(request, auth.settings.server.trusted_proxies)
        principal: Principal | None = None
        try:
            principal = await auth.authenticate(tokens.access, client)
        except TooManyRequests:
            raise
        except AppError as exc:
            if is_refreshable(exc):
                principal = await self._refreshed(request, tokens, client, state)
        if principal is not None and (principal.kind != "user" or principal.session_id is None):
            principal = None  # the cookie only ever carries a user's session tokens
        if principal is None:
            state.session_ended = True
            state.set_cookie(session_cookie(None, state.https, 0))
        state.principal = principal
        return principal

    async def _refreshed(
        self, request: Any, tokens: CookieTokens, client: Any, state: ConsoleState
    ) -> Principal | None:
        current = runtime.current()
        if current is None:
            return None
        auth = self.deps.auth
        try:
            store = request.app.stores.get("cache")
            pair = await self.deps.refresher.refresh(tokens.refresh, client, store, current.gate)
            principal = await auth.authenticate(pair.access_token, client)
        except TooManyRequests:
            raise
        except AppError as exc:
            log.info("console session not refreshed: %s", exc.detail)
            return None
        state.set_cookie(session_cookie(pair, state.https, auth.security.refresh_token_ttl))
        return principal


def _response_headers(state: ConsoleState) -> Any:
    def headers() -> list[tuple[str, str]]:
        out = [(k.decode(), v.decode()) for k, v in SECURITY_HEADERS]
        out += [("set-cookie", c.to_header(header="")) for c in state.cookies]
        return out

    return headers


async def _to_sign_in(request: Any, state: ConsoleState, scope: Scope, receive: Receive, send: Send) -> None:
    """Pages that need a session send the browser to sign in, and back here afterwards."""
    target = SIGN_IN
    if request.method == "GET" and not request.headers.get("hx-request"):
        here = scope["path"] + (
            ("?" + scope["query_string"].decode("latin-1")) if scope["query_string"] else ""
        )
        target += "?" + urllib.parse.urlencode({"next": here})
    if state.session_ended:
        state.set_cookie(plain_cookie(FLASH_COOKIE, "session-ended", state.https, 60))
    headers = [(b"location", target.encode())]
    status = 303
    if request.headers.get("hx-request"):
        headers = [(b"hx-redirect", target.encode())]
        status = 200
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
