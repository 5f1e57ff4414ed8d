"""Out-of-band changes to the sandbox cloud: what someone clicking in its console would do.

Used by ``board3 sandbox list|set|delete`` and ``/api/v1/sandbox/resources``. Edits bypass the
cloud's placement rules on purpose (that is what makes them drift), but values must still fit the
attribute's type, or the provider could not hand them to Terraform.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.lib.errors import Conflict, FieldError, ValidationFailed, not_found
from app.lib.pagination import decode_cursor, encode_cursor, invalid_cursor
from app.sandbox.rules import check_value, complete
from app.sandbox.schemas import SandboxResourcePage, SandboxResourceRead
from app.sandbox.specs import RESOURCE_TYPES
from app.sandbox.store import Record, SandboxStore, UniqueViolation, VersionConflict


class SandboxConsole:
    """List, inspect, edit and delete sandbox resources behind Terraform's back."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def resources(
        self, type_name: str | None = None, *, after_seq: int = 0, limit: int | None = None
    ) -> list[Record]:
        if type_name is not None and type_name not in RESOURCE_TYPES:
            known = ", ".join(RESOURCE_TYPES)
            raise ValidationFailed(
                f"unknown resource type {type_name!r}",
                errors=[FieldError("type", f"must be one of: {known}")],
            )
        return self.store.resources(type_name, after_seq=after_seq, limit=limit)

    def page(self, type_name: str | None, cursor: str | None, limit: int) -> SandboxResourcePage:
        """A page of resources, oldest first; the cursor holds the last one's ``seq``."""
        records = self.resources(type_name, after_seq=_after(cursor), limit=limit + 1)
        items = records[:limit]
        next_cursor = encode_cursor([items[-1].seq]) if len(records) > limit else None
        return SandboxResourcePage(
            items=[SandboxResourceRead.from_record(r) for r in items], next_cursor=next_cursor
        )

    def get(self, resource_id: str) -> Record:
        record = self.store.get(resource_id)
        if record is None:
            raise not_found("sandbox resource")
        return record

    def patch(
        self, resource_id: str, changes: Mapping[str, Any], *, expected_version: int | None = None
    ) -> Record:
        """Merge ``changes`` into the stored attributes (refusing unknown names and wrong types)."""
        record = self.get(resource_id)
        spec = RESOURCE_TYPES[record.type]
        if not changes:
            raise ValidationFailed(
                "no attribute to change", errors=[FieldError("attributes", "name at least one attribute")]
            )
        errors = [
            FieldError(f"attributes.{name}", message)
            for name, value in changes.items()
            if (message := check_value(spec, name, value)) is not None
        ]
        if errors:
            raise ValidationFailed(f"{record.type} {resource_id} cannot take these values", errors=errors)
        try:
            with self.store.transaction() as tx:
                current = tx.get(resource_id)
                if current is None:
                    raise not_found("sandbox resource")
                merged = complete(spec, {**current.attributes, **changes})
                return tx.update(resource_id, merged, expected_version=expected_version)
        except VersionConflict as exc:
            raise Conflict(
                f"{resource_id} changed since version {exc.expected}; it is now at version {exc.actual}",
                extra={"current_version": exc.actual},
            ) from None
        except UniqueViolation:
            raise Conflict(
                "another bucket already has this name",
                errors=[FieldError("attributes.name", "is already taken")],
            ) from None

    def delete(self, resource_id: str) -> None:
        """Delete as a console would let an admin: no dependency checks, Terraform sees it vanish."""
        with self.store.transaction() as tx:
            if not tx.delete(resource_id):
                raise not_found("sandbox resource")


def _after(cursor: str | None) -> int:
    if cursor is None:
        return 0
    values = decode_cursor(cursor)
    if len(values) != 1 or not isinstance(values[0], int):
        raise invalid_cursor()
    return values[0]
