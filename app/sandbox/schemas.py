"""Request and response bodies of ``/api/v1/sandbox/resources``."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from app.lib.schema import Request, Response
from app.sandbox.store import Record

ResourceId = Annotated[
    str, msgspec.Meta(description="Id assigned by the sandbox cloud.", examples=["i-0f3a9c2d4b5e6f70"])
]
ResourceType = Annotated[
    str,
    msgspec.Meta(
        description="Terraform resource type.",
        examples=["sandbox_instance"],
    ),
]
Attributes = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description="Every attribute of the resource as the provider's Read returns it (without id).",
        examples=[{"size": "small", "status": "running", "private_ip": "10.0.1.4", "tags": {"env": "dev"}}],
    ),
]


class SandboxResourceRead(Response):
    """One resource as the sandbox cloud holds it now."""

    id: ResourceId
    type: ResourceType
    attributes: Attributes
    version: Annotated[
        int,
        msgspec.Meta(description="Counts writes; send it as If-Match to edit safely.", examples=[3]),
    ]
    created_at: Annotated[str, msgspec.Meta(description="UTC, ISO 8601.", examples=["2025-01-31T12:00:00Z"])]
    updated_at: Annotated[str, msgspec.Meta(description="UTC, ISO 8601.", examples=["2025-01-31T12:05:00Z"])]

    @classmethod
    def from_record(cls, record: Record) -> SandboxResourceRead:
        return cls(
            id=record.id,
            type=record.type,
            attributes=record.attributes,
            version=record.version,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class SandboxResourcePatch(Request):
    """Attributes to change out of band, merged into the stored ones (drift for Terraform to find)."""

    attributes: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="Attribute name to new value; names must exist for the resource's type.",
            examples=[{"size": "xlarge", "tags": {"changed": "by-hand"}}],
        ),
    ]


class SandboxResourcePage(Response):
    """A page of sandbox resources, oldest first."""

    items: list[SandboxResourceRead]
    next_cursor: Annotated[
        str | None, msgspec.Meta(description="Pass as `cursor` to get the next page; null on the last page.")
    ] = None
