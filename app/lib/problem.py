"""Exception handlers: every error leaves as ``application/problem+json`` (RFC 9457).

Body validation failures become 422 with ``errors: [{field, message}]`` (field paths relative to
the body, e.g. ``canvas.nodes[3].id``); malformed JSON and bad query/path values are 400;
a Redis fault is 503 with ``Retry-After`` (logged once per outage, ``app.lib.outage``);
unexpected exceptions are 500 with a generic detail (the traceback goes to the log, with the
request id, never to the client).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from app.lib.errors import PROBLEM_BASE, AppError, too_large
from app.lib.outage import REDIS, REDIS_FAULTS, RETRY_AFTER_SECONDS

log = logging.getLogger("board3.errors")

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Permission denied"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-failed", "Validation failed"),
    429: ("rate-limited", "Too many requests"),
    503: ("unavailable", "Service unavailable"),
}

_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]*)`")
_MISSING_FIELD = re.compile(r"missing required field `([^`]*)`")
_REFUSED_FIELD = re.compile(r"^`([^`]*)` must not")  # raised by app.lib.schema.Request


def problem_response(
    status: int, code: str, title: str, detail: str, extra: dict[str, Any] | None = None, headers=None
) -> Response[Any]:
    body: dict[str, Any] = {"type": PROBLEM_BASE + code, "title": title, "status": status, "detail": detail}
    if extra:
        body.update(extra)
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers or {})


def _field_path(key: str | None, message: str) -> str:
    base = "" if key in (None, "", "data") else str(key)
    for pattern in (_UNKNOWN_FIELD, _MISSING_FIELD, _REFUSED_FIELD):
        m = pattern.search(message)
        if m:
            return f"{base}.{m.group(1)}" if base else m.group(1)
    return base or "body"


def _validation_errors(exc: ValidationException) -> tuple[list[dict[str, str]], str]:
    errors: list[dict[str, str]] = []
    source = "body"
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        raw_source = item.get("source") or source
        source = str(getattr(raw_source, "value", raw_source))
        message = str(item.get("message", "invalid value"))
        key = item.get("key")
        field = _field_path(key, message)
        if source in ("query", "path", "header", "cookie"):
            field = f"{source}.{field}" if field != "body" else source
        errors.append({"field": field, "message": message})
    return errors, source


def app_error_handler(request: Request[Any, Any, Any], exc: AppError) -> Response[Any]:
    if exc.status >= 500:
        log.error("service error: %s", exc.detail)
    return Response(
        content=exc.to_problem(), status_code=exc.status, media_type=PROBLEM_JSON, headers=exc.headers
    )


def validation_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors, source = _validation_errors(exc)
    if source == "body" and any(e["message"] == "'data'" for e in errors):
        # Litestar's way of saying the body was empty.
        return problem_response(
            400, "missing-body", "Missing request body", "this endpoint needs a JSON body"
        )
    if not errors:
        # Litestar raises ValidationException without field details for undecodable bodies.
        return problem_response(400, "malformed-body", "Malformed request body", str(exc.detail))
    status = 422 if source == "body" else 400
    fields = ", ".join(e["field"] for e in errors)
    return problem_response(
        status,
        "validation-failed" if status == 422 else "bad-request",
        "Validation failed" if status == 422 else "Bad request",
        f"invalid value for {fields}",
        {"errors": errors},
    )


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    code, title = _TITLES.get(status, ("http-error", "HTTP error"))
    detail = str(exc.detail) if exc.detail else title
    if status == 400 and detail.startswith("JSON is malformed"):
        code, title = "malformed-body", "Malformed request body"
    if status == 404 and detail == "Not Found":
        detail = "no such route"
    if status == 413:  # Litestar's request body limit: BOARD3_MAX_BODY_BYTES
        return app_error_handler(request, _body_too_large(request))
    headers = dict(exc.headers or {})
    if isinstance(exc, NotAuthorizedException) and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = 'Bearer realm="board3"'
    return problem_response(status, code, title, detail, None, headers)


def _body_too_large(request: Request[Any, Any, Any]) -> AppError:
    """Litestar refuses a body over the route's limit, which is the app's (BOARD3_MAX_BODY_BYTES)."""
    limit = request.route_handler.resolve_request_max_body_size() or 0
    return too_large("the request body", limit, "BOARD3_MAX_BODY_BYTES")


def recursion_handler(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    """msgspec raises RecursionError for absurdly deep JSON: a bad request, not a server fault."""
    log.warning("request body nested too deeply")
    return problem_response(400, "malformed-body", "Malformed request body", "the JSON is nested too deeply")


def redis_fault_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A Redis fault anywhere in a request is a 503 with Retry-After, logged once per outage (not a
    500 with a traceback per request)."""
    REDIS.failed(exc)
    return problem_response(
        503,
        "dependency-unavailable",
        "Service unavailable",
        "a backing service (Redis) is unreachable; retry shortly",
        {"retry_after": RETRY_AFTER_SECONDS},
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error", exc_info=exc)
    return problem_response(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal-error",
        "Internal server error",
        "an unexpected error occurred; quote the X-Request-ID header when reporting it",
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    AppError: app_error_handler,
    ValidationException: validation_handler,
    HTTPException: http_error_handler,
    RecursionError: recursion_handler,
    **dict.fromkeys(REDIS_FAULTS, redis_fault_handler),
    Exception: internal_error_handler,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "MediaType", "problem_response"]
