"""Pure functions over whole state documents (REST paths only; the write path reads the header).

Outputs and resources are read from the decrypted JSON; restore and forced writes rewrite the
serial (and lineage) of an old document while keeping everything else as it was.
"""

from __future__ import annotations

import json
from typing import Any

from app.lib.errors import AppError
from app.states.header import MAX_STATE_DEPTH
from app.states.schemas import OutputRead, ResourceRead

MASK = None


class StateTooDeep(AppError):
    """A stored version nested deeper than writes accept (it was written before the limit)."""

    status = 422
    code = "state-too-deep"
    title = "State nested too deeply"

    def __init__(self) -> None:
        super().__init__(
            f"this version of the state is nested more than {MAX_STATE_DEPTH} levels deep, deeper than "
            "Board3 reads states; write a new version to use it here"
        )


def _document(data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except RecursionError:
        raise StateTooDeep() from None
    if not isinstance(doc, dict):
        raise ValueError("a state document is a JSON object")
    return doc


def rewrite(data: bytes, *, serial: int, lineage: str) -> bytes:
    """The same state with another serial and lineage, formatted the way Terraform writes it."""
    doc = _document(data)
    doc["serial"] = serial
    doc["lineage"] = lineage
    try:
        return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
    except RecursionError:
        raise StateTooDeep() from None


def outputs(data: bytes, *, reveal: bool) -> list[OutputRead]:
    """Root module outputs; sensitive values are withheld unless ``reveal``."""
    doc = _document(data)
    items = []
    raw = doc.get("outputs") or {}
    if not isinstance(raw, dict):
        return []
    for name in sorted(raw):
        out = raw[name] if isinstance(raw[name], dict) else {}
        sensitive = bool(out.get("sensitive", False))
        masked = sensitive and not reveal
        items.append(
            OutputRead(
                name=name,
                type=out.get("type"),
                sensitive=sensitive,
                masked=masked,
                value=MASK if masked else out.get("value"),
            )
        )
    return items


def resources(data: bytes) -> list[ResourceRead]:
    """Every resource block with its address and how many instances it has."""
    doc = _document(data)
    items = []
    for res in doc.get("resources") or []:
        if not isinstance(res, dict):
            continue
        mode = str(res.get("mode", "managed"))
        rtype = str(res.get("type", ""))
        name = str(res.get("name", ""))
        module = res.get("module")
        local = f"{rtype}.{name}" if mode == "managed" else f"data.{rtype}.{name}"
        address = f"{module}.{local}" if module else local
        instances = res.get("instances") or []
        items.append(
            ResourceRead(
                address=address,
                mode=mode,
                type=rtype,
                name=name,
                provider=str(res.get("provider", "")),
                module=str(module) if module else None,
                instance_count=len(instances) if isinstance(instances, list) else 0,
            )
        )
    return items
