"""Response schemas of the state REST API (the /tf protocol speaks Terraform's own JSON)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec

from app.lib.schema import Response


class LockRead(Response):
    """Who holds a state's lock, as Terraform described it, plus what the server recorded."""

    id: Annotated[str, msgspec.Meta(description="The lock id Terraform chose (sent back as `?ID=`)")]
    operation: Annotated[str, msgspec.Meta(examples=["OperationTypeApply"])]
    who: Annotated[str, msgspec.Meta(description="user@host as reported by Terraform")]
    info: str
    version: Annotated[str, msgspec.Meta(description="Terraform version of the holder")]
    created: Annotated[str, msgspec.Meta(description="When the holder says it took the lock")]
    path: str
    locked_by: Annotated[str | None, msgspec.Meta(description="The Board3 credential that took the lock")]
    locked_at: dt.datetime | None
    age_seconds: Annotated[float, msgspec.Meta(description="Seconds since the server granted the lock")]


class StateRead(Response):
    id: uuid.UUID
    name: str
    serial: Annotated[int | None, msgspec.Meta(description="Serial of the current version; null before")]
    lineage: str | None
    terraform_version: str | None
    size: Annotated[int, msgspec.Meta(description="Bytes of the current version (decrypted)")]
    resource_count: Annotated[int, msgspec.Meta(description="Managed resources in the current version")]
    current_version: uuid.UUID | None
    design_id: uuid.UUID | None
    environment: str | None
    pipeline_id: Annotated[uuid.UUID | None, msgspec.Meta(description="The pipeline that owns the state")]
    applied_version: Annotated[
        int | None, msgspec.Meta(description="The design version its pipeline applied last")
    ]
    diverged: Annotated[
        bool,
        msgspec.Meta(
            description="Board3 had to kill a run that may have changed infrastructure without recording "
            "it; the pipeline's next successful apply clears this"
        ),
    ]
    diverged_reason: str | None
    lock: LockRead | None
    created_at: dt.datetime
    updated_at: dt.datetime


class StatePage(Response):
    items: list[StateRead]
    next_cursor: Annotated[str | None, msgspec.Meta(description="Pass as `cursor` for the next page")] = None


class Actor(Response):
    type: Annotated[str, msgspec.Meta(examples=["api_key", "user", "run", "system"])]
    id: uuid.UUID | None
    label: str


class StateVersionRead(Response):
    id: uuid.UUID
    serial: int
    lineage: str
    terraform_version: str
    state_format: int
    sha256: str
    md5: Annotated[str, msgspec.Meta(description="Hex MD5 of the state bytes (Terraform sends base64)")]
    size: int
    resource_count: int
    created_by: Actor
    execution_id: uuid.UUID | None
    restored_from: Annotated[int | None, msgspec.Meta(description="Serial this version restored, if any")]
    key_id: Annotated[str, msgspec.Meta(description="Master key that wraps this version's data key")]
    created_at: dt.datetime


class StateVersionPage(Response):
    items: list[StateVersionRead]
    next_cursor: Annotated[str | None, msgspec.Meta(description="Pass as `cursor` for the next page")] = None


class OutputRead(Response):
    name: str
    type: Any
    sensitive: bool
    masked: Annotated[bool, msgspec.Meta(description="True when the value was withheld")]
    value: Any = None


class OutputsRead(Response):
    serial: int | None
    outputs: list[OutputRead]


class ResourceRead(Response):
    address: Annotated[str, msgspec.Meta(examples=["module.net.aws_subnet.private"])]
    mode: Annotated[str, msgspec.Meta(examples=["managed", "data"])]
    type: str
    name: str
    provider: str
    module: str | None
    instance_count: int


class ResourcesRead(Response):
    serial: int | None
    resources: list[ResourceRead]


class ForceUnlockRead(Response):
    released: Annotated[LockRead | None, msgspec.Meta(description="The lock that was removed, or null")]
