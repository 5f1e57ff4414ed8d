"""Rendering console pages: the Jinja environment, the filters every page shares (times, durations,
status tones) and the shell around each page (who is signed in, their organizations, what they may
do in the current one, the one-time flash message)."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.datastructures import Cookie

from app.accounts import orgs
from app.accounts.authz import access_for_org
from app.accounts.schemas import OrganizationRead
from app.console.nav import nav_for
from app.console.session import FLASH_COOKIE, SESSION_COOKIE
from app.lib.clock import utcnow
from app.lib.errors import not_found
from app.lib.principal import Principal

TEMPLATES = Path(__file__).parent / "templates"
HTML = "text/html; charset=utf-8"
STATIC = "/console/static"

# One meaning per colour everywhere: done well, needs someone, in progress, failed, set aside.
TONES = {
    "applied": "ok",
    "planned_and_finished": "ok",
    "succeeded": "ok",
    "active": "ok",
    "no_drift": "ok",
    "accepted": "ok",
    "enabled": "ok",
    "planned": "attention",
    "locked": "attention",
    "drifted": "attention",
    "pending": "waiting",
    "queued": "waiting",
    "confirmed": "running",
    "planning": "running",
    "applying": "running",
    "running": "running",
    "delivering": "running",
    "in_progress": "running",
    "errored": "bad",
    "failed": "bad",
    "force_canceled": "bad",
    "diverged": "bad",
    "retry": "bad",
    "lost": "bad",
    "canceled": "muted",
    "discarded": "muted",
    "draft": "muted",
    "archived": "muted",
    "skipped": "muted",
    "expired": "muted",
    "revoked": "muted",
    "disabled": "muted",
}
STATUS_LABELS = {"planned_and_finished": "no changes", "force_canceled": "force-canceled"}
FLASH_MESSAGES = {
    "session-ended": "Your session has ended (it expired or was signed out elsewhere). Sign in again.",
    "signed-out": "You are signed out.",
}


def tone(status: str | None) -> str:
    return TONES.get(status or "", "muted")


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", (status or "").replace("_", " "))


def ago(value: dt.datetime | None) -> str:
    if value is None:
        return "—"
    seconds = (utcnow() - value).total_seconds()
    if seconds < 0:
        return "in " + _span(-seconds)
    if seconds < 45:
        return "just now"
    return _span(seconds) + " ago"


def _span(seconds: float) -> str:
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''}"
    return f"{int(seconds)} s"


def when(value: dt.datetime | None) -> str:
    return "—" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{int(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def filesize(n: int | None) -> str:
    if n is None:
        return "—"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def compact(value: Any, limit: int = 300) -> str:
    """A value as short JSON for tables (before/after of a change, outputs, properties)."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = msgspec.json.encode(value).decode()
        except (TypeError, msgspec.EncodeError):
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        tone=tone,
        status_label=status_label,
        ago=ago,
        when=when,
        duration=duration,
        filesize=filesize,
        compact=compact,
        q=lambda v: urllib.parse.quote(str(v), safe=""),
    )
    env.globals.update(static=STATIC)
    return env


ENV = _environment()


@dataclass
class Shell:
    """The frame of a page: the signed-in user, their organizations, the current one and what they
    may do there (to show only the buttons that will work; the services decide regardless)."""

    principal: Principal | None
    csrf_token: str
    organizations: list[OrganizationRead] = field(default_factory=list)
    org: OrganizationRead | None = None
    permissions: frozenset[str] = frozenset()
    flash: str | None = None
    nav: list[Any] = field(default_factory=list)

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def base(self) -> str:
        return f"/console/orgs/{self.org.slug}" if self.org else "/console"


def console_state(request: Request[Any, Any, Any]) -> Any:
    return request.scope["state"]["console"]


async def shell_for(request: Request[Any, Any, Any], org: str | None) -> Shell:
    """The shell of a page; for an organization's page also the caller's access to it (another
    organization is 404, like the API)."""
    state = console_state(request)
    principal: Principal | None = state.principal
    shell = Shell(principal=principal, csrf_token=state.csrf_token)
    flash = request.cookies.get(FLASH_COOKIE)
    if flash:
        shell.flash = FLASH_MESSAGES.get(flash) or urllib.parse.unquote(flash)[:300]
        state.set_cookie(Cookie(key=FLASH_COOKIE, value="", path="/console", max_age=0))
    if principal is None:
        return shell
    shell.organizations = await orgs.list_organizations(principal)
    if org is not None:
        access = await access_for_org(principal, slug=org)
        shell.org = next((o for o in shell.organizations if o.slug == access.organization_slug), None)
        if shell.org is None:
            raise not_found("organization")
        shell.permissions = access.permissions
        shell.nav = nav_for(shell.permissions)
    return shell


async def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    org: str | None = None,
    shell: Shell | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response[Any]:
    """A whole page (or, for templates starting with ``_``, a fragment) as an HTML response."""
    shell = shell or await shell_for(request, org)
    html = ENV.get_template(template).render(shell=shell, request_path=request.url.path, **context)
    return Response(content=html, media_type=HTML, status_code=status_code)


def redirect(
    location: str, flash: str | None = None, request: Request[Any, Any, Any] | None = None
) -> Response[Any]:
    """Post/redirect/get: 303 to ``location``, with a message shown once on the next page."""
    response: Response[Any] = Response(content=b"", status_code=303, headers={"Location": location})
    if flash and request is not None:
        console_state(request).set_cookie(
            Cookie(
                key=FLASH_COOKIE,
                value=urllib.parse.quote(flash, safe=""),
                path="/console",
                max_age=60,
                httponly=True,
                secure=console_state(request).https,
                samesite="lax",
            )
        )
    return response


def same_org(shell: Shell, slug: str, kind: str) -> None:
    """An object reached by id belongs to the organization in the URL, or the page is not found."""
    if shell.org is None or shell.org.slug != slug:
        raise not_found(kind)


__all__ = ["ENV", "HTML", "SESSION_COOKIE", "Shell", "page", "redirect", "same_org", "shell_for"]
