"""Tables of what happened: the append-only audit log."""

from __future__ import annotations

from piccolo.columns import JSON, UUID, Timestamptz, Varchar
from piccolo.table import Table


class AuditLog(Table, tablename="audit_logs"):
    """One mutation: who (user, API key, run or system), what, on which object, from where.

    Append-only: database triggers refuse UPDATE and DELETE.
    """

    id = UUID(primary_key=True)
    organization_id = UUID(null=True, index=True)
    actor_type = Varchar(length=16)
    actor_id = UUID(null=True, index=True)
    actor_label = Varchar(length=320, default="")
    action = Varchar(length=64, index=True)
    object_type = Varchar(length=32, default="")
    object_id = Varchar(length=128, default="", index=True)
    details = JSON(default={})
    ip = Varchar(length=64, null=True, default=None)
    user_agent = Varchar(length=512, null=True, default=None)
    request_id = Varchar(length=64, null=True, default=None)
    created_at = Timestamptz(index=True)


class DomainEventRow(Table, tablename="domain_events"):
    """One thing that happened that others may react to (an execution needs approval, drift was
    found, a member was removed), written in the transaction that made it happen: the outbox that
    notifications and webhooks are built from. Append-only."""

    id = UUID(primary_key=True)
    organization_id = UUID(index=True)
    type = Varchar(length=64, index=True)
    object_type = Varchar(length=32, default="")
    object_id = Varchar(length=128, default="")
    actor_type = Varchar(length=16)
    actor_id = UUID(null=True, default=None)
    actor_label = Varchar(length=320, default="")
    data = JSON(default={})
    created_at = Timestamptz(index=True)
