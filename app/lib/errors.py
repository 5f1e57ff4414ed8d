"""Errors as RFC 9457 problem details (``application/problem+json``).

Services raise the ``AppError`` subclasses below; ``app.lib.problem`` turns them (and Litestar's
own exceptions) into responses. A problem has a stable ``type`` URI, a ``title``, the ``status``,
a ``detail`` sentence and, for validation problems, ``errors``: ``[{field, message}]`` where
``field`` is the JSON path of the failing value (``canvas.nodes[3].id``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

PROBLEM_BASE = "https://board3.dev/problems/"


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class AppError(Exception):
    """Base of every error a service may raise; maps to one problem+json response."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra or {}
        self.headers = headers or {}
        if code is not None:
            self.code = code  # type: ignore[misc]

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.code

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        body.update(self.extra)
        return body


class BadRequest(AppError):
    status = 400
    code = "bad-request"
    title = "Bad request"


class ValidationFailed(AppError):
    """The request is well-formed JSON but a value is not acceptable (names the fields)."""

    status = 422
    code = "validation-failed"
    title = "Validation failed"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    title = "Permission denied"


class NotFound(AppError):
    status = 404
    code = "not-found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"


class PreconditionFailed(AppError):
    status = 412
    code = "precondition-failed"
    title = "Precondition failed"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported-media-type"
    title = "Unsupported media type"


class Locked(AppError):
    status = 423
    code = "locked"
    title = "Locked"


class TooManyRequests(AppError):
    status = 429
    code = "rate-limited"
    title = "Too many requests"


def too_large(what: str, limit: int, setting: str | None, **kw: Any) -> PayloadTooLarge:
    """413 that names the limit and the setting that raises it (``setting=None``: a fixed limit)."""
    raise_it = f"the server's {setting} raises it" if setting else "a fixed limit"
    return PayloadTooLarge(
        f"{what} is larger than the limit of {limit} bytes ({raise_it})",
        extra={"limit": limit, **({"setting": setting} if setting else {})},
        **kw,
    )


class ServiceUnavailable(AppError):
    """The request could not be served now (a dependency is down, or the process is at a capacity
    limit); ``Retry-After`` says when to try again, and Terraform retries 5xx by itself."""

    status = 503
    code = "unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str, *, retry_after: int = 2, code: str | None = None, **kwargs: Any) -> None:
        headers = {"Retry-After": str(retry_after), **kwargs.pop("headers", {})}
        extra = {"retry_after": retry_after, **kwargs.pop("extra", {})}
        super().__init__(detail, headers=headers, extra=extra, code=code, **kwargs)


def not_found(kind: str) -> NotFound:
    """The one way to say "no such object (or not yours)": same words whether it exists or not."""
    return NotFound(f"{kind} not found", code="not-found")
