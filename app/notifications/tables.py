"""Tables of notifications (per user), pipeline watches, webhooks with their secrets, deliveries
and attempts, and invitations.

Hand-written indexes (see the migration): one notification per (user, event), one watch per
(pipeline, user), one pending invitation per (organization, email), and the dispatcher's index on
due deliveries.
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

from app.accounts.tables import Organization, Role, User
from app.lib.sealed import SealedRows
from app.pipelines.tables import Pipeline


class Notification(Table, tablename="notifications"):
    """Something one user should know about, made from a domain event. ``organization`` is null for
    what concerns the user personally (an invitation to an organization they are not in yet)."""

    id = UUID(primary_key=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, null=True, index=True)
    type = Varchar(length=64)
    title = Varchar(length=300)
    body = Text(default="")
    object_type = Varchar(length=32, default="")
    object_id = Varchar(length=128, default="")
    link = Varchar(length=500, default="")
    data = JSON(default={})
    event_id = UUID(null=True, default=None)
    unread = Boolean(default=True)
    read_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class NotificationPreference(Table, tablename="notification_preferences"):
    """The event types a user does not want notifications for (everything else is on)."""

    id = UUID(primary_key=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, unique=True, index=True)
    muted = JSON(default=[])
    updated_at = Timestamptz()


class PipelineWatch(Table, tablename="pipeline_watches"):
    """A user's explicit choice to watch (or stop watching) a pipeline. Without one, the pipeline's
    creator and the users who started its executions watch it."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, index=True)
    pipeline = ForeignKey(references=Pipeline, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    watching = Boolean(default=True)
    updated_at = Timestamptz()


class Webhook(Table, tablename="webhooks"):
    """An organization's HTTP endpoint for the domain events it names in ``events``."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=100)
    url = Varchar(length=2048)
    events = JSON(default=[])
    format = Varchar(length=16, default="json")
    enabled = Boolean(default=True)
    disabled_reason = Text(null=True, default=None)
    disabled_at = Timestamptz(null=True, default=None)
    consecutive_failures = Integer(default=0)
    created_by = UUID(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    last_delivery_at = Timestamptz(null=True, default=None)
    last_success_at = Timestamptz(null=True, default=None)


class WebhookSecret(Table, tablename="webhook_secrets"):
    """A webhook's signing secret, envelope-encrypted (it must be recovered to sign). The current
    one has no ``expires_at``; a rotated one keeps signing until it expires."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade)
    webhook = ForeignKey(references=Webhook, on_delete=OnDelete.cascade, index=True)
    prefix = Varchar(length=16)
    enc_format = Integer()
    key_id = Varchar(length=32)
    wrapped_key = Bytea()
    ciphertext = Bytea()
    created_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None)


class WebhookDelivery(Table, tablename="webhook_deliveries"):
    """One event for one webhook: the body sent (the same bytes on every attempt) and where its
    delivery stands. The row is the job: a worker claims it with a conditional UPDATE."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, index=True)
    webhook = ForeignKey(references=Webhook, on_delete=OnDelete.cascade, index=True)
    event_id = UUID(null=True, default=None)
    event_type = Varchar(length=64)
    payload = Text()
    status = Varchar(length=16)  # pending | delivering | succeeded | failed | canceled
    manual = Boolean(default=False)  # a test or a redelivery: one attempt, never disables the webhook
    redelivery_of = UUID(null=True, default=None)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None)
    worker_id = Varchar(length=128, null=True, default=None)
    lease_expires_at = Timestamptz(null=True, default=None)
    last_status_code = Integer(null=True, default=None)
    last_error = Text(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)


class WebhookAttempt(Table, tablename="webhook_attempts"):
    """One try at a delivery, written when it starts (so a worker that dies mid-way leaves a trace)
    and completed when it ends."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade)
    delivery = ForeignKey(references=WebhookDelivery, on_delete=OnDelete.cascade, index=True)
    number = Integer()
    outcome = Varchar(length=16)  # in_progress | succeeded | retry | failed | lost
    status_code = Integer(null=True, default=None)
    response_excerpt = Text(null=True, default=None)
    error = Text(null=True, default=None)
    duration_ms = Integer(null=True, default=None)
    worker_id = Varchar(length=128, default="")
    started_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)


class Invitation(Table, tablename="invitations"):
    """An invitation to join an organization with a role, by email. Only the token's SHA-256 is
    stored; the token travels by email and works once, until ``expires_at``."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, index=True)
    email = Varchar(length=320, index=True)
    role = ForeignKey(references=Role, on_delete=OnDelete.cascade)
    token_hash = Varchar(length=64, unique=True, index=True, secret=True)
    invited_by = UUID(null=True, default=None)
    invited_by_label = Varchar(length=320, default="")
    created_at = Timestamptz()
    expires_at = Timestamptz()
    last_sent_at = Timestamptz()
    send_count = Integer(default=1)
    accepted_at = Timestamptz(null=True, default=None)
    accepted_by = UUID(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


def secret_context(organization: object, webhook: object, secret: object) -> dict[str, str]:
    """A webhook secret decrypts only in its organization, webhook and row."""
    return {"org": str(organization), "webhook": str(webhook), "secret": str(secret)}


SEALED_WEBHOOK_SECRETS = SealedRows(
    "webhook secrets",
    WebhookSecret,
    (WebhookSecret.organization, WebhookSecret.webhook),
    lambda row: secret_context(row["organization"], row["webhook"], row["id"]),
)
