"""Pipeline variables: Terraform variables and environment variables, plain or sensitive.

A sensitive value is encrypted (``app.lib.crypto``, bound to its organization, pipeline and
variable), never returned, and decrypted only for a run (``for_run``), inside its private working
directory; every log line of that run masks it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec

from app.accounts.authz import Principal
from app.db import on_unique_violation, transaction
from app.events import audit
from app.lib import crypto
from app.lib.clock import utcnow
from app.lib.errors import Conflict, FieldError, ValidationFailed, not_found
from app.pipelines.pipelines import org_access, pipeline_access
from app.pipelines.schemas import VariableCreate, VariableList, VariableRead, VariableUpdate
from app.pipelines.tables import PipelineVariable, variable_context
from app.terraform.hclsyntax import ExpressionError, normalize_expression

TF_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Environment variables a run's terraform must not receive from a pipeline: they would change which
# programs run, where terraform keeps its files, where the state goes, or leak what it logs.
ENV_RESERVED_PREFIXES = ("TF_", "BOARD3_", "LD_", "DYLD_", "PYTHON", "CHECKPOINT_", "GODEBUG")
ENV_RESERVED = frozenset({"PATH", "HOME", "SHELL", "ENV", "BASH_ENV", "IFS", "TMPDIR", "PWD"})

META = [c for c in PipelineVariable.all_columns() if c._meta.name not in ("wrapped_key", "ciphertext")]


@dataclass(frozen=True, slots=True)
class RunVariable:
    key: str
    category: str
    hcl: bool
    sensitive: bool
    value: str


def _check_key(key: str, category: str, errors: list[FieldError]) -> None:
    if category == "terraform":
        if not TF_NAME.match(key):
            errors.append(
                FieldError("key", "a Terraform variable name: a letter or _, then letters, digits, _ or -")
            )
        return
    if not ENV_NAME.match(key):
        errors.append(
            FieldError("key", "an environment variable name: a letter or _, then letters, digits or _")
        )
    elif key.upper() in ENV_RESERVED or key.upper().startswith(ENV_RESERVED_PREFIXES):
        errors.append(
            FieldError("key", f"{key} is reserved for the run itself (use a terraform variable for TF_VAR_*)")
        )


def _check_value(value: str, hcl: bool, errors: list[FieldError]) -> None:
    if hcl:
        try:
            normalize_expression(value)
        except ExpressionError as exc:
            errors.append(FieldError("value", str(exc)))


def variable_read(row: dict[str, Any]) -> VariableRead:
    return VariableRead(
        id=row["id"],
        pipeline_id=row["pipeline"],
        key=row["key"],
        category=row["category"],
        hcl=row["hcl"],
        sensitive=row["sensitive"],
        value=None if row["sensitive"] else row["value"],
        description=row["description"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def _sealed(org: uuid.UUID, pipeline: uuid.UUID, variable: uuid.UUID, value: str) -> dict[Any, Any]:
    envelope = await crypto.encrypt(value.encode(), context=variable_context(org, pipeline, variable))
    return {
        PipelineVariable.value: None,
        PipelineVariable.enc_format: envelope.format,
        PipelineVariable.key_id: envelope.key_id,
        PipelineVariable.wrapped_key: envelope.wrapped_key,
        PipelineVariable.ciphertext: envelope.ciphertext,
    }


def _taken(key: str) -> Conflict:
    return Conflict(
        f"the pipeline already has a variable {key!r} of this category",
        errors=[FieldError("key", "already exists")],
        code="variable-exists",
    )


async def create_variable(principal: Principal, pipeline_id: uuid.UUID, data: VariableCreate) -> VariableRead:
    access, _ = await pipeline_access(principal, pipeline_id, "pipeline:write")
    errors: list[FieldError] = []
    _check_key(data.key, data.category, errors)
    _check_value(data.value, data.hcl, errors)
    if errors:
        raise ValidationFailed("the variable cannot be stored as given", errors=errors)
    now = utcnow()
    variable_id = uuid.uuid4()
    row = PipelineVariable(
        id=variable_id,
        organization=access.organization_id,
        pipeline=pipeline_id,
        key=data.key,
        category=data.category,
        hcl=data.hcl,
        sensitive=data.sensitive,
        description=data.description,
        value=None if data.sensitive else data.value,
        created_at=now,
        updated_at=now,
    )
    with on_unique_violation(_taken(data.key)):
        async with transaction():
            await row.save()
            if data.sensitive:
                sealed = await _sealed(access.organization_id, pipeline_id, variable_id, data.value)
                await PipelineVariable.update(sealed).where(PipelineVariable.id == variable_id)
            await audit.record(
                principal,
                "variable.create",
                organization_id=access.organization_id,
                object_type="variable",
                object_id=variable_id,
                details={
                    "pipeline_id": str(pipeline_id),
                    "key": data.key,
                    "category": data.category,
                    "sensitive": data.sensitive,
                },
            )
    return await _read(variable_id)


async def _read(variable_id: uuid.UUID) -> VariableRead:
    row = await PipelineVariable.select(*META).where(PipelineVariable.id == variable_id).first()
    if row is None:
        raise not_found("variable")
    return variable_read(row)


async def list_variables(principal: Principal, pipeline_id: uuid.UUID) -> VariableList:
    await pipeline_access(principal, pipeline_id, "pipeline:read")
    rows = (
        await PipelineVariable.select(*META)
        .where(PipelineVariable.pipeline == pipeline_id)
        .order_by(PipelineVariable.category)
        .order_by(PipelineVariable.key)
    )
    return VariableList(items=[variable_read(r) for r in rows])


async def _variable_access(principal: Principal, variable_id: uuid.UUID) -> dict[str, Any]:
    row = await PipelineVariable.select(*META).where(PipelineVariable.id == variable_id).first()
    if row is None:
        raise not_found("variable")
    access = await org_access(principal, row["organization"], "variable")
    access.require("pipeline:write")
    return row


async def update_variable(principal: Principal, variable_id: uuid.UUID, data: VariableUpdate) -> VariableRead:
    row = await _variable_access(principal, variable_id)
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    errors: list[FieldError] = []
    if row["sensitive"] and changes.get("sensitive") is False:
        errors.append(
            FieldError("sensitive", "a sensitive variable stays sensitive; delete and re-create it")
        )
    key = changes.get("key", row["key"])
    hcl = changes.get("hcl", row["hcl"])
    sensitive = changes.get("sensitive", row["sensitive"])
    _check_key(key, row["category"], errors)
    if "value" in changes or ("hcl" in changes and not row["sensitive"]):
        _check_value(changes.get("value", row["value"] or ""), hcl, errors)
    if errors:
        raise ValidationFailed("the variable cannot be changed as asked", errors=errors)
    columns: dict[Any, Any] = {
        getattr(PipelineVariable, k): v
        for k, v in changes.items()
        if k in ("key", "hcl", "sensitive", "description")
    }
    new_value = changes.get("value")
    if sensitive and (new_value is not None or not row["sensitive"]):
        value = new_value if new_value is not None else (row["value"] or "")
        columns.update(await _sealed(row["organization"], row["pipeline"], variable_id, value))
    elif new_value is not None:
        columns[PipelineVariable.value] = new_value
    with on_unique_violation(_taken(key)):
        async with transaction():
            await PipelineVariable.update({**columns, PipelineVariable.updated_at: utcnow()}).where(
                PipelineVariable.id == variable_id
            )
            await audit.record(
                principal,
                "variable.update",
                organization_id=row["organization"],
                object_type="variable",
                object_id=variable_id,
                details={"key": key, "changed": sorted(changes)},  # never the value
            )
    return await _read(variable_id)


async def delete_variable(principal: Principal, variable_id: uuid.UUID) -> None:
    row = await _variable_access(principal, variable_id)
    async with transaction():
        await PipelineVariable.delete().where(PipelineVariable.id == variable_id)
        await audit.record(
            principal,
            "variable.delete",
            organization_id=row["organization"],
            object_type="variable",
            object_id=variable_id,
            details={"pipeline_id": str(row["pipeline"]), "key": row["key"]},
        )


async def for_run(pipeline_id: uuid.UUID) -> list[RunVariable]:
    """Every variable of the pipeline with its value, sensitive ones decrypted (for a run only)."""
    rows = await PipelineVariable.select().where(PipelineVariable.pipeline == pipeline_id)
    out = []
    for row in rows:
        value = row["value"] or ""
        if row["sensitive"]:
            envelope = crypto.Envelope(
                format=row["enc_format"],
                key_id=row["key_id"],
                wrapped_key=bytes(row["wrapped_key"]),
                ciphertext=bytes(row["ciphertext"]),
            )
            plain = await crypto.decrypt(
                envelope, context=variable_context(row["organization"], pipeline_id, row["id"])
            )
            value = plain.decode()
        out.append(RunVariable(row["key"], row["category"], row["hcl"], row["sensitive"], value))
    return out
