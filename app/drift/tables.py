"""Drift checks: one row per check of a pipeline's real infrastructure against its state.

A check that runs is carried by an execution (operation ``drift``, ``execution_id``); one that
could not run (nothing applied yet, the state busy for a scheduled check) is recorded as
``skipped`` with its ``reason`` and no execution. ``resources`` holds what drifted, per resource
and attribute, with sensitive values already masked; ``difference`` compares it with the previous
check that had a result.
"""

from __future__ import annotations

from piccolo.columns import JSON, UUID, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from app.accounts.tables import Organization
from app.pipelines.tables import Pipeline


class DriftCheck(Table, tablename="drift_checks"):
    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, index=True)
    pipeline = ForeignKey(references=Pipeline, on_delete=OnDelete.cascade, index=True)
    design_id = UUID()
    environment = Varchar(length=64)
    state_id = UUID()
    design_version = Integer(null=True, default=None)  # the version last applied, which is checked
    execution_id = UUID(null=True, default=None, index=True)
    # pending | running | no_drift | drifted | errored | canceled | skipped
    status = Varchar(length=16, index=True)
    trigger = Varchar(length=16)  # manual | schedule
    reason = Text(null=True, default=None)  # why skipped, errored or canceled
    resources = JSON(null=True, default=None)
    drifted = Integer(default=0)  # resources changed or deleted outside Terraform
    changed = Integer(default=0)
    deleted = Integer(default=0)
    difference = JSON(null=True, default=None)
    previous_check_id = UUID(null=True, default=None)
    created_by_type = Varchar(length=16)
    created_by_id = UUID(null=True, default=None)
    created_by_label = Varchar(length=320, default="")
    created_at = Timestamptz(index=True)
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
