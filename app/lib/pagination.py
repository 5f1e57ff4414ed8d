"""Keyset pagination with opaque cursors.

A cursor is the sort key of the last row of a page (value of the sort column and the id), encoded
as url-safe base64 JSON. It is opaque to clients; a malformed one is a 400 naming ``cursor``.
Queries stay tenant-scoped, so a forged cursor can only move within what the caller may see.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from litestar.params import QueryParameter
from piccolo.columns import UUID, Column, Timestamptz
from piccolo.columns.combination import Combinable
from piccolo.query import Objects, Select

from app.lib.errors import BadRequest, FieldError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Page size (1-200)")]
Cursor = Annotated[
    str | None, QueryParameter(max_length=512, description="`next_cursor` of the previous page (opaque)")
]


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_plain(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid_cursor() from None
    if not isinstance(values, list):
        raise invalid_cursor()
    return values


def invalid_cursor() -> BadRequest:
    return BadRequest(
        "cursor is not valid; use the next_cursor of a previous page",
        errors=[FieldError("query.cursor", "not a cursor issued by this API")],
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _typed(column: Column, value: Any) -> Any:
    try:
        if isinstance(column, Timestamptz):
            return dt.datetime.fromisoformat(value)
        if isinstance(column, UUID):
            return uuid.UUID(value)
    except (TypeError, ValueError):
        raise invalid_cursor() from None
    return value


@dataclass(frozen=True)
class Keyset:
    """Order by ``column`` then ``tiebreak`` (both descending by default)."""

    column: Column
    tiebreak: Column
    descending: bool = True

    def after(self, cursor: str) -> Combinable:
        values = decode_cursor(cursor)
        if len(values) != 2:
            raise invalid_cursor()
        first, second = _typed(self.column, values[0]), _typed(self.tiebreak, values[1])
        if self.descending:
            return (self.column < first) | ((self.column == first) & (self.tiebreak < second))
        return (self.column > first) | ((self.column == first) & (self.tiebreak > second))

    def apply(self, query: Select | Objects, cursor: str | None, limit: int) -> Any:
        if cursor:
            query = query.where(self.after(cursor))
        return query.order_by(self.column, self.tiebreak, ascending=not self.descending).limit(limit + 1)

    def page(self, rows: list[Any], limit: int) -> tuple[list[Any], str | None]:
        """Split the ``limit + 1`` rows fetched into the page and the next cursor."""
        if len(rows) <= limit:
            return rows, None
        rows = rows[:limit]
        last = rows[-1]
        name, tie = self.column._meta.name, self.tiebreak._meta.name
        if isinstance(last, dict):
            return rows, encode_cursor([last[name], last[tie]])
        return rows, encode_cursor([getattr(last, name), getattr(last, tie)])
