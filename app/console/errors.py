"""Errors on console pages: a readable page (or, for an htmx request, a message in the page's
flash area) with what went wrong, instead of the API's problem+json."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from app.console.render import ENV, HTML, Shell
from app.lib.errors import AppError
from app.lib.problem import _validation_errors

log = logging.getLogger("board3.console")

TITLES = {
    400: "The request was not understood",
    401: "Sign in to continue",
    403: "Not allowed",
    404: "Not found",
    405: "Not possible here",
    409: "Not possible right now",
    412: "Changed meanwhile",
    413: "Too large",
    422: "Some values are not acceptable",
    423: "Locked",
    429: "Too many requests",
    503: "Unavailable",
}
HINTS = {
    403: "Ask an administrator of the organization for a role that allows this.",
    404: "It may have been deleted, or it belongs to an organization you are not a member of.",
    409: "Reload the page to see the current state, then try again.",
    429: "Wait a minute, then try again.",
    503: "A service Board3 needs is unreachable; try again shortly.",
}


def _render(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    title: str | None = None,
) -> Response[Any]:
    state = request.scope.get("state", {}).get("console")
    shell = Shell(
        principal=getattr(state, "principal", None),
        csrf_token=getattr(state, "csrf_token", ""),
    )
    context = {
        "status": status,
        "title": title or TITLES.get(status, "Something went wrong"),
        "detail": detail,
        "errors": errors or [],
        "hint": HINTS.get(status),
        "request_id": request.scope.get("state", {}).get("request_id"),
        "shell": shell,
        "request_path": request.url.path,
    }
    out = dict(headers or {})
    if request.headers.get("hx-request"):
        # htmx swaps nothing for an error by default: show it in the page's message area instead.
        html = ENV.get_template("_error_flash.html").render(**context)
        out |= {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        return Response(content=html, media_type=HTML, status_code=200, headers=out)
    html = ENV.get_template("error.html").render(**context)
    return Response(content=html, media_type=HTML, status_code=status, headers=out)


def app_error(request: Request[Any, Any, Any], exc: AppError) -> Response[Any]:
    if exc.status >= 500:
        log.error("console service error: %s", exc.detail)
    errors = [e.as_dict() for e in exc.errors]
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "retry-after"}
    return _render(request, exc.status, exc.detail, errors, headers, getattr(exc, "title", None))


def validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors, _ = _validation_errors(exc)
    fields = ", ".join(e["field"] for e in errors) or "the request"
    return _render(request, 400, f"invalid value for {fields}", errors)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    detail = str(exc.detail) if exc.detail else TITLES.get(status, "error")
    if status == 404 and detail == "Not Found":
        detail = "there is no console page at this address"
    if isinstance(exc, NotAuthorizedException):
        status = 401
    return _render(request, status, detail)


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled console error", exc_info=exc)
    return _render(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "an unexpected error occurred; quote the request id below when reporting it",
        title="Something went wrong",
    )


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The console's answer to any exception (for the console middleware, which sends it with the
    page's cookies and security headers)."""
    if isinstance(exc, AppError):
        return app_error(request, exc)
    if isinstance(exc, ValidationException):
        return validation_error(request, exc)
    if isinstance(exc, HTTPException):
        return http_error(request, exc)
    return internal_error(request, exc)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    AppError: app_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: internal_error,
}


def with_console_pages(handlers: dict[Any, Any]) -> dict[Any, Any]:
    """The application's exception handlers, except that a request for a console address nothing
    routes (``/console/...`` with a wrong id, a wrong method) gets the console's error page: those
    fail in the router, before any console handler or middleware could answer."""
    api_handler = handlers[HTTPException]

    def handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
        if request.url.path == "/console" or request.url.path.startswith("/console/"):
            return http_error(request, exc)
        response: Response[Any] = api_handler(request, exc)
        return response

    return {**handlers, HTTPException: handler}
