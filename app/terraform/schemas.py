"""msgspec Structs of the resource catalog's API (node types, their properties and references)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from app.lib.schema import Response


class PropertyRead(Response, omit_defaults=True):
    """An argument (``type`` is a Terraform type) or a nested block (``block`` is its nesting mode)."""

    type: Annotated[str, msgspec.Meta(examples=["string", "list(string)"])]
    required: bool = False
    description: str = ""
    sensitive: bool = False
    block: Annotated[str | None, msgspec.Meta(examples=["list"])] = None
    properties: dict[str, PropertyRead] | None = None


class ReferenceRead(Response, omit_defaults=True):
    """An edge from this type to one of ``targets`` sets ``property`` to ``<target>.<attribute>``."""

    property: Annotated[str, msgspec.Meta(examples=["vpc_id"])]
    targets: Annotated[list[str], msgspec.Meta(examples=[["aws_vpc"]])]
    attribute: Annotated[str, msgspec.Meta(examples=["id"])]
    is_list: bool = msgspec.field(default=False, name="list")
    """Serialized as ``list``; named otherwise so it does not shadow the builtin in annotations."""
    contains: bool = False


class ResourceTypeRead(Response, omit_defaults=True):
    """A node type a design may use."""

    type: Annotated[str, msgspec.Meta(examples=["aws_subnet", "data.aws_ami", "module.label", "variable"])]
    kind: Annotated[str, msgspec.Meta(examples=["resource", "data", "module", "variable", "output"])]
    provider: Annotated[str | None, msgspec.Meta(examples=["aws"])] = None
    source: Annotated[str | None, msgspec.Meta(examples=["hashicorp/aws"])] = None
    version: Annotated[str | None, msgspec.Meta(examples=["~> 5.0"])] = None
    category: Annotated[str, msgspec.Meta(examples=["networking"])] = "other"
    description: str = ""
    properties: dict[str, PropertyRead] = msgspec.field(default_factory=dict)
    attributes: Annotated[
        dict[str, str], msgspec.Meta(description="Computed attributes other nodes may refer to")
    ] = msgspec.field(default_factory=dict)
    references: list[ReferenceRead] = msgspec.field(default_factory=list)
    example: dict[str, Any] = msgspec.field(default_factory=dict)


class ResourceTypePage(Response):
    """A page of node types; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[ResourceTypeRead]
    next_cursor: str | None = None
