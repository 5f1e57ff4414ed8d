"""State tables: named Terraform states, their encrypted versions, and the key canaries.

Unique (organization, name) on states and (state, serial) on versions are indexes written by hand
in the migration (SQLite cannot add constraints later).
"""

from __future__ import annotations

from piccolo.columns import (
    UUID,
    BigInt,
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
from app.lib.clock import utcnow
from app.lib.sealed import SealedRows
from app.states.sealing import context


class State(Table, tablename="states"):
    """One named state of an organization: the current pointer and the lock live on this row.

    The lock is taken with a conditional ``UPDATE ... WHERE lock_id IS NULL``, so concurrent
    LOCKs are decided by the database.
    """

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=128)
    # Set when a pipeline owns the state: its design, environment, and the design version it applied
    # last (kept here by the pipelines domain).
    design_id = UUID(null=True, default=None)
    environment = Varchar(length=64, null=True, default=None)
    pipeline_id = UUID(null=True, default=None)
    applied_version = Integer(null=True, default=None)
    current_version = UUID(null=True, default=None)
    serial = BigInt(null=True, default=None)
    lineage = Varchar(length=128, null=True, default=None)
    terraform_version = Varchar(length=64, null=True, default=None)
    size = BigInt(default=0)
    resource_count = Integer(default=0)
    lock_id = Varchar(length=128, null=True, default=None)
    lock_info = Text(null=True, default=None)  # the holder's lock-info JSON, as sent
    locked_by = Varchar(length=320, null=True, default=None)  # principal label
    locked_by_id = UUID(null=True, default=None)
    locked_at = Timestamptz(null=True, default=None)
    # Set when Board3 had to kill a run that may have changed infrastructure without recording it
    # (a force-cancel, a lost worker); cleared by the next successful apply of its pipeline.
    diverged_at = Timestamptz(null=True, default=None)
    diverged_reason = Text(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz(auto_update=utcnow)


class StateVersion(Table, tablename="state_versions"):
    """One accepted write: immutable metadata plus the envelope-encrypted state bytes."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, index=True)
    state = ForeignKey(references=State, on_delete=OnDelete.cascade, index=True)
    serial = BigInt()
    lineage = Varchar(length=128)
    terraform_version = Varchar(length=64, default="")
    state_format = Integer(default=4)
    sha256 = Varchar(length=64)
    md5 = Varchar(length=32)
    size = BigInt()
    resource_count = Integer(default=0)
    created_by_type = Varchar(length=16)
    created_by_id = UUID(null=True, default=None)
    created_by_label = Varchar(length=320, default="")
    execution_id = UUID(null=True, default=None)  # the pipeline execution that wrote it, if any
    restored_from = BigInt(null=True, default=None)
    # envelope: format version, master key id, wrapped data key, nonce + ciphertext + tag
    enc_format = Integer()
    key_id = Varchar(length=32, index=True)
    wrapped_key = Bytea()
    ciphertext = Bytea()
    created_at = Timestamptz()


class EncryptionCanary(Table, tablename="encryption_canaries"):
    """A known plaintext per master key id: proves at start-up that the configured key is the
    one that encrypted the data (same id, different key material is refused)."""

    key_id = Varchar(length=32, primary_key=True)
    enc_format = Integer()
    wrapped_key = Bytea()
    ciphertext = Bytea()
    created_at = Timestamptz()


# A version's blob decrypts only in its organization, state and version (``sealing.context``).
SEALED_VERSIONS = SealedRows(
    "state versions",
    StateVersion,
    (StateVersion.organization, StateVersion.state),
    lambda row: context(row["organization"], row["state"], row["id"]),
)

__all__ = ["SEALED_VERSIONS", "EncryptionCanary", "State", "StateVersion"]
