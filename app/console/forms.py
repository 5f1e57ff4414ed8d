"""Reading console forms into the API's own request Structs, so a form is held to exactly the
rules of the JSON body it stands for (lengths, patterns, enums), with the same field names."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request

from app.console.session import CSRF_FIELD
from app.lib.errors import FieldError, ValidationFailed

T = TypeVar("T")
_AT = re.compile(r" - at `\$\.?([^`]*)`$")


async def form_fields(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The submitted fields (the CSRF token left out); repeated fields become lists."""
    form = await request.form()
    out: dict[str, Any] = {}
    for key in form:
        if key == CSRF_FIELD:
            continue
        values = [v for v in form.getall(key) if isinstance(v, str)]
        if values:
            out[key] = values if len(values) > 1 else values[0]
    return out


def convert(data: dict[str, Any], schema: type[T]) -> T:
    """``data`` as ``schema``; a failure is a 422 naming the field like the API would."""
    try:
        return msgspec.convert(data, schema, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _AT.search(message)
        field = (match.group(1) if match else "") or "form"
        text = _AT.sub("", message)
        raise ValidationFailed(
            f"invalid value for {field}: {text}", errors=[FieldError(field, text)]
        ) from None


def text(fields: dict[str, Any], key: str) -> str:
    value = fields.get(key, "")
    return value.strip() if isinstance(value, str) else ""


def optional_int(fields: dict[str, Any], key: str) -> int | None:
    raw = text(fields, key)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed(
            f"invalid value for {key}: not a whole number", errors=[FieldError(key, "must be a whole number")]
        ) from None


def checkbox(fields: dict[str, Any], key: str) -> bool:
    return fields.get(key) in ("on", "true", "1")
