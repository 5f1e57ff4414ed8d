"""Pipeline tables: pipelines, their variables, executions with stages, logs and saved plans.

The execution row is the source of truth of a run: its status, who holds it (``worker_id`` and
``lease_expires_at``) and whether it holds its state's slot (``active``). Unique indexes written by
hand in the migration: one pipeline per (design, environment) and per state name, one variable per
(pipeline, category, key), one execution number per pipeline, and at most one ``active`` execution
per state (a partial unique index: the database, not the code, keeps two runs off one state).
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    UUID,
    Boolean,
    Bytea,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from app.accounts.tables import Organization
from app.designs.tables import Design
from app.lib.sealed import SealedRows


class Pipeline(Table, tablename="pipelines"):
    """Applies one design to one environment; owns one state (``state_name``, created with it)."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, index=True)
    design = ForeignKey(references=Design, on_delete=OnDelete.cascade, index=True)
    environment = Varchar(length=64)
    state_id = UUID(index=True)
    state_name = Varchar(length=128)
    auto_apply = Boolean(default=False)
    require_approval = Boolean(default=False)
    drift_schedule = Varchar(length=128, null=True, default=None)
    next_drift_check_at = Timestamptz(null=True, default=None, index=True)
    # The latest drift check at a glance (``app.designs.schemas.DriftGlance``), kept by app.drift.
    drift_summary = JSON(null=True, default=None)
    last_applied_version = Integer(null=True, default=None)
    last_applied_at = Timestamptz(null=True, default=None)
    last_execution_id = UUID(null=True, default=None)
    next_number = Integer(default=1)
    created_by = UUID(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class PipelineVariable(Table, tablename="pipeline_variables"):
    """A Terraform variable (``category`` terraform) or an environment variable (``env``).

    A sensitive value is never stored in ``value``: it is envelope-encrypted (``app.lib.crypto``)
    with its organization, pipeline and variable as associated data, and never returned."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, index=True)
    pipeline = ForeignKey(references=Pipeline, on_delete=OnDelete.cascade, index=True)
    key = Varchar(length=128)
    category = Varchar(length=16)
    hcl = Boolean(default=False)
    sensitive = Boolean(default=False)
    description = Text(default="")
    value = Text(null=True, default=None)
    enc_format = Integer(null=True, default=None)
    key_id = Varchar(length=32, null=True, default=None)
    wrapped_key = Bytea(null=True, default=None)
    ciphertext = Bytea(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Execution(Table, tablename="pipeline_executions"):
    """One run of a pipeline: plan, apply or destroy of one pinned design version."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, index=True)
    pipeline = ForeignKey(references=Pipeline, on_delete=OnDelete.cascade, index=True)
    number = Integer()
    state_id = UUID(index=True)
    design_id = UUID()
    design_version = Integer()
    operation = Varchar(length=16)
    speculative = Boolean(default=False)
    status = Varchar(length=32, index=True)
    active = Boolean(default=False)
    created_by_type = Varchar(length=16)
    created_by_id = UUID(null=True, default=None)
    created_by_label = Varchar(length=320, default="")
    created_at = Timestamptz(index=True)
    updated_at = Timestamptz()
    started_at = Timestamptz(null=True, default=None)
    planned_at = Timestamptz(null=True, default=None)
    confirmed_at = Timestamptz(null=True, default=None)
    confirmed_by_id = UUID(null=True, default=None)
    confirmed_by_label = Varchar(length=320, null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    cancel_requested_at = Timestamptz(null=True, default=None)
    force_cancel_requested_at = Timestamptz(null=True, default=None)
    canceled_by_label = Varchar(length=320, null=True, default=None)
    error = Text(null=True, default=None)
    has_changes = Boolean(null=True, default=None)
    plan_summary = JSON(null=True, default=None)
    plan_changes = JSON(null=True, default=None)
    worker_id = Varchar(length=128, null=True, default=None)
    lease_expires_at = Timestamptz(null=True, default=None, index=True)
    attempts = Integer(default=0)
    token_hash = Varchar(length=64, null=True, default=None, index=True)
    log_lines = Integer(default=0)


class ExecutionStage(Table, tablename="pipeline_stages"):
    """One step of an execution (prepare, init, validate, plan, show, apply) with its timing."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade)
    execution = ForeignKey(references=Execution, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=16)
    position = Integer()
    status = Varchar(length=16)
    exit_code = Integer(null=True, default=None)
    started_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)


class ExecutionLog(Table, tablename="pipeline_logs"):
    """A chunk of an execution's log: ``line_count`` lines from ``first_line`` (0-based), already
    masked. Written as the run goes, so a log survives a restart of its worker."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade)
    execution = ForeignKey(references=Execution, on_delete=OnDelete.cascade, index=True)
    first_line = Integer()
    line_count = Integer()
    data = Text()
    created_at = Timestamptz()


class SavedPlan(Table, tablename="pipeline_plans"):
    """The plan file an approval applies, encrypted (it can hold sensitive values), with the
    dependency lock file of the run that made it."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade)
    execution = ForeignKey(references=Execution, on_delete=OnDelete.cascade, index=True)
    lock_file = Text(default="")
    enc_format = Integer()
    key_id = Varchar(length=32)
    wrapped_key = Bytea()
    ciphertext = Bytea()
    created_at = Timestamptz()


def variable_context(organization: object, pipeline: object, variable: object) -> dict[str, str]:
    """A sensitive variable decrypts only in its organization, pipeline and variable."""
    return {"org": str(organization), "pipeline": str(pipeline), "variable": str(variable)}


def plan_context(organization: object, execution: object) -> dict[str, str]:
    """A saved plan decrypts only in its organization and execution."""
    return {"org": str(organization), "execution": str(execution)}


SEALED_VARIABLES = SealedRows(
    "pipeline variables",
    PipelineVariable,
    (PipelineVariable.organization, PipelineVariable.pipeline),
    lambda row: variable_context(row["organization"], row["pipeline"], row["id"]),
)
SEALED_PLANS = SealedRows(
    "saved plans",
    SavedPlan,
    (SavedPlan.organization, SavedPlan.execution),
    lambda row: plan_context(row["organization"], row["execution"]),
)
