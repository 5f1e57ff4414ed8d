"""msgspec Structs of the Terraform domain: validation results, catalog reads, design export/import."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec

from app.designs.canvas import Canvas
from app.designs.schemas import (
    CloudProvider,
    Description,
    DesignBody,
    DesignName,
    DesignRead,
    DesignStatus,
    VersionMessage,
)
from app.lib.schema import ProblemDetails as ProblemBody
from app.lib.schema import Request, Response


class Problem(Response, omit_defaults=True):
    """One thing wrong with a design; ``code`` is stable, ``message`` is for people."""

    code: Annotated[str, msgspec.Meta(examples=["missing-required-property"])]
    message: Annotated[str, msgspec.Meta(examples=["aws_subnet.a: required property 'vpc_id' is not set"])]
    node: Annotated[str | None, msgspec.Meta(description="Id of the node concerned", examples=["vpc-1"])] = (
        None
    )
    edge: Annotated[
        int | None, msgspec.Meta(description="Index of the edge concerned in canvas.edges", examples=[0])
    ] = None


class ValidationResult(Response):
    """``valid`` is true exactly when ``problems`` is empty."""

    valid: bool
    problems: list[Problem]


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


# --- design routes: validate, export, import --------------------------------------------------------

ImportFileName = Annotated[str, msgspec.Meta(min_length=1, max_length=255, examples=["main.tf"])]


class ValidateRequest(Request):
    """An unsaved canvas to validate instead of a stored version (checked like a save first)."""

    canvas: Canvas


class DesignValidation(ValidationResult):
    """The validation of one version of a design (``version`` is null for an unsaved canvas)."""

    design_id: uuid.UUID
    version: Annotated[int | None, msgspec.Meta(examples=[3])]


class TerraformFiles(Response):
    """The HCL rendering of a design version: file name -> file content."""

    version: Annotated[int, msgspec.Meta(examples=[3])]
    files: Annotated[
        dict[str, str],
        msgspec.Meta(
            description="versions.tf, variables.tf, main.tf, outputs.tf (only the non-empty ones)",
            examples=[{"main.tf": 'resource "terraform_data" "a" {\n  input = "x"\n}\n'}],
        ),
    ]


class DesignImport(Request):
    """A new design from Terraform files (``files``) or from a Terraform state (``state``): exactly one."""

    name: DesignName
    description: Description = ""
    cloud_provider: CloudProvider | None = None
    """Defaults to the provider most of the imported resources use."""
    status: DesignStatus = "draft"
    message: VersionMessage = ""
    """Message of version 1 (defaults to a note saying where the canvas came from)."""
    files: (
        Annotated[
            dict[ImportFileName, str],
            msgspec.Meta(
                max_length=200,
                description="File name -> content; .tf and .tf.json files are read, others are ignored",
                examples=[{"main.tf": 'resource "terraform_data" "a" {\n  input = "x"\n}\n'}],
            ),
        ]
        | None
    ) = None
    state: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(description="A Terraform state document (format version 4), as JSON"),
    ] = None


class DesignImported(DesignRead):
    """The created design (version 1 is the imported canvas) and what the import could not keep."""

    source: Literal["files", "state"]
    warnings: list[str]


class DesignImportedBody(DesignBody):
    """Wire form of ``DesignImported`` (the stored canvas bytes embedded as they are)."""

    source: Literal["files", "state"]
    warnings: list[str]


class InvalidDesignProblem(ProblemBody, kw_only=True):
    """422 ``design-invalid``: the design's problems, listed as ``POST .../validate`` lists them."""

    problems: list[Problem]
