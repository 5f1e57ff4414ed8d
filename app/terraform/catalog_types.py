"""The catalog's data types: catalog documents, node types and bundled modules' specs.

Pure data (msgspec Structs), below both the catalog loader (``catalog``) and the module reader
(``modules``), which build them.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

Kind = Literal["resource", "data", "module", "variable", "output"]
NestingMode = Literal["single", "list", "set"]

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class CatalogError(ValueError):
    """A catalog document is malformed (message names the document and entry)."""


class PropertySpec(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """An argument of a resource (``type`` is a Terraform type) or a nested block (``block`` set)."""

    type: str = "any"
    required: bool = False
    description: str = ""
    sensitive: bool = False
    block: NestingMode | None = None
    properties: dict[str, PropertySpec] = msgspec.field(default_factory=dict)
    max_items: int | None = None


class ReferenceRule(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """An edge ``source -> target`` (target type in ``targets``) sets ``property`` to ``target.<attribute>``.

    ``list``: the property is a list and each edge appends one reference. ``contains``: the target
    is drawn around the source (a VPC around its subnets) and import sets the node's parent.
    """

    property: str
    targets: list[str]
    attribute: str = "id"
    is_list: bool = msgspec.field(default=False, name="list")
    contains: bool = False


class TypeSpec(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One resource type or data source as written in a catalog document."""

    description: str = ""
    category: str = "other"
    complete: bool = False
    properties: dict[str, PropertySpec] = msgspec.field(default_factory=dict)
    attributes: dict[str, str] = msgspec.field(default_factory=dict)
    references: list[ReferenceRule] = msgspec.field(default_factory=list)
    example: dict[str, Any] = msgspec.field(default_factory=dict)


class ProviderSetting(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A provider argument generated as ``<name> = var.<variable>`` with a default."""

    variable: str
    type: str = "string"
    default: Any = None
    description: str = ""


class ProviderDoc(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A catalog document: one provider and its types (``seeds/catalog/<provider>.json``)."""

    provider: str
    source: str
    version: str = ""
    builtin: bool = False
    settings: dict[str, ProviderSetting] = msgspec.field(default_factory=dict)
    config_blocks: list[str] = msgspec.field(default_factory=list)
    resources: dict[str, TypeSpec] = msgspec.field(default_factory=dict)
    data_sources: dict[str, TypeSpec] = msgspec.field(default_factory=dict)


class NodeType(msgspec.Struct, frozen=True):
    """A node type as the validator and code generators see it (resources and data sources)."""

    type: str
    kind: Kind
    provider: str
    spec: TypeSpec

    @property
    def tf_type(self) -> str:
        """The Terraform type name (``aws_ami`` for ``data.aws_ami``)."""
        return self.type.removeprefix("data.")


class ModuleInput(msgspec.Struct, frozen=True, omit_defaults=True):
    type: str = "any"
    required: bool = True
    description: str = ""


class ModuleSpec(msgspec.Struct, frozen=True):
    """A bundled module from ``terraform_modules/<name>``: its inputs, outputs and files."""

    name: str
    description: str
    inputs: dict[str, ModuleInput]
    outputs: dict[str, str]
    providers: list[str]
    files: dict[str, str]

    @property
    def type(self) -> str:
        return f"module.{self.name}"
