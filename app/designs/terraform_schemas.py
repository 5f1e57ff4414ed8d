"""msgspec Structs of the design routes that use the Terraform core: validate, export, import."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec

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
from app.terraform.canvas import Canvas
from app.terraform.results import Problem, ValidationResult

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
