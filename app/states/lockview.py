"""A state's lock as clients see it: Terraform's lock-info fields, the REST view, and the 423 that
carries the holder's lock info."""

from __future__ import annotations

from typing import Any

import msgspec

from app.lib.clock import utcnow
from app.lib.errors import Locked
from app.states.schemas import LockRead

_lock_fields = msgspec.json.Decoder(dict[str, Any])


def lock_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The holder's lock info as Terraform sent it (its seven fields)."""
    raw = row.get("lock_info")
    fields: dict[str, Any] = {}
    if raw:
        try:
            fields = _lock_fields.decode(raw)
        except msgspec.DecodeError:
            fields = {}
    fields.setdefault("ID", row.get("lock_id") or "")
    return fields


def lock_read(row: dict[str, Any]) -> LockRead | None:
    if not row.get("lock_id"):
        return None
    info = lock_fields(row)
    locked_at = row.get("locked_at")
    age = (utcnow() - locked_at).total_seconds() if locked_at else 0.0
    return LockRead(
        id=str(row["lock_id"]),
        operation=str(info.get("Operation", "")),
        who=str(info.get("Who", "")),
        info=str(info.get("Info", "")),
        version=str(info.get("Version", "")),
        created=str(info.get("Created", "")),
        path=str(info.get("Path", "")),
        locked_by=row.get("locked_by"),
        locked_at=locked_at,
        age_seconds=round(max(age, 0.0), 3),
    )


LOCK_INFO_FIELDS = ("ID", "Operation", "Info", "Who", "Version", "Created", "Path")


class StateLocked(Locked):
    """423 whose body carries the holder's lock-info fields at the top level, next to the problem
    fields: Terraform decodes it as lock info, API clients read it as a problem."""

    code = "state-locked"
    title = "State locked"

    def __init__(self, row: dict[str, Any], detail: str | None = None) -> None:
        info = lock_fields(row)
        who = info.get("Who") or row.get("locked_by") or "someone"
        operation = info.get("Operation") or "no operation"
        super().__init__(
            detail or f"the state is locked by {who} (lock {info.get('ID')}, {operation})",
            extra={k: info.get(k, "") for k in LOCK_INFO_FIELDS},
        )
