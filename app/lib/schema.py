"""Base msgspec Structs for request and response schemas.

Requests refuse unknown fields (a typo is an error, not silently ignored); responses omit nothing
and are never raw ORM rows or dicts.
"""

from __future__ import annotations

import msgspec


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
