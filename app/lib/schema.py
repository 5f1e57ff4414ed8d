"""Base msgspec Structs for request and response schemas.

Requests refuse unknown fields (a typo is an error, not silently ignored); responses omit nothing
and are never raw ORM rows or dicts.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request as HttpRequest

from app.lib.errors import BadRequest, FieldError


class Request(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base for request bodies: unknown fields are refused with 422 naming the field."""

    def __post_init__(self) -> None:
        # PostgreSQL text cannot hold U+0000: refuse it here, naming the field (422), instead of
        # failing in the database (500). Strings and lists of strings are what reach text columns.
        for name in self.__struct_fields__:
            value = getattr(self, name)
            texts = value if isinstance(value, list) else (value,)
            if any(isinstance(t, str) and "\x00" in t for t in texts):
                raise ValueError(f"`{name}` must not contain NUL characters (U+0000)")


class Response(msgspec.Struct, kw_only=True):
    """Base for response bodies."""


class FieldProblem(Response):
    field: str
    """JSON path of the offending value, e.g. ``canvas.nodes[3].id``."""
    message: str


class ProblemDetails(Response):
    """An RFC 9457 problem (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | msgspec.UnsetType = msgspec.UNSET


async def refuse_nul(request: HttpRequest[Any, Any, Any]) -> None:
    """``before_request`` hook: a path or query value holding U+0000 is a 400 naming it (PostgreSQL
    text cannot hold it, so it would otherwise fail in the database as a 500). Async although it
    awaits nothing: Litestar runs a sync hook in a worker thread, on every request."""
    bad = [f"path.{k}" for k, v in request.path_params.items() if isinstance(v, str) and "\x00" in v]
    bad += [f"query.{k}" for k, v in request.query_params.multi_items() if "\x00" in v or "\x00" in k]
    if bad:
        raise BadRequest(
            f"invalid value for {', '.join(bad)}",
            errors=[FieldError(field, "must not contain NUL characters (U+0000)") for field in bad],
        )
