"""Base msgspec Structs for request and response schemas.

Requests refuse unknown fields (a typo is an error, not silently ignored); responses omit nothing
and are never raw ORM rows or dicts.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

T = TypeVar("T")


class Request(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base for request bodies: unknown fields are refused with 400 naming the field."""


class Response(msgspec.Struct, kw_only=True):
    """Base for response bodies."""


class Page(msgspec.Struct, Generic[T], kw_only=True):
    """A page of a list: ``next_cursor`` is opaque; pass it as ``cursor`` for the next page."""

    items: list[T]
    next_cursor: str | None = None
