"""Rows to API views: a state and a state version as the REST API shows them."""

from __future__ import annotations

from typing import Any

from app.states.lockview import lock_read
from app.states.schemas import Actor, StateRead, StateVersionRead


def state_read(row: dict[str, Any]) -> StateRead:
    return StateRead(
        id=row["id"],
        name=row["name"],
        serial=row["serial"],
        lineage=row["lineage"],
        terraform_version=row["terraform_version"],
        size=row["size"] or 0,
        resource_count=row["resource_count"] or 0,
        current_version=row["current_version"],
        design_id=row["design_id"],
        environment=row["environment"],
        pipeline_id=row["pipeline_id"],
        applied_version=row["applied_version"],
        diverged=row["diverged_at"] is not None,
        diverged_reason=row["diverged_reason"],
        lock=lock_read(row),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def version_read(row: dict[str, Any]) -> StateVersionRead:
    return StateVersionRead(
        id=row["id"],
        serial=row["serial"],
        lineage=row["lineage"],
        terraform_version=row["terraform_version"],
        state_format=row["state_format"],
        sha256=row["sha256"],
        md5=row["md5"],
        size=row["size"],
        resource_count=row["resource_count"],
        created_by=Actor(type=row["created_by_type"], id=row["created_by_id"], label=row["created_by_label"]),
        execution_id=row["execution_id"],
        restored_from=row["restored_from"],
        key_id=row["key_id"],
        created_at=row["created_at"],
    )
