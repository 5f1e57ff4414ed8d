"""What the pure Terraform core answers about a canvas: problems and validation results."""

from __future__ import annotations

from typing import Annotated

import msgspec

from app.lib.schema import Response


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
