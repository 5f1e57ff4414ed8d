"""Request and response schemas of notifications, pipeline watches, webhooks and invitations."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from app.accounts.schemas import Email, OrganizationRead, Password, PersonName, RoleName, UserRead
from app.lib.schema import Request, Response

EventPattern = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, examples=["execution.errored", "drift.*"])
]
WebhookName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, examples=["ops channel"])]
WebhookUrl = Annotated[
    str,
    msgspec.Meta(
        min_length=8,
        max_length=2048,
        description="http(s) URL without credentials; private and loopback addresses are refused "
        "unless BOARD3_WEBHOOK_ALLOW_PRIVATE is set",
        examples=["https://hooks.example.com/board3"],
    ),
]
WebhookFormat = Literal["json", "slack"]
GraceSeconds = Annotated[int, msgspec.Meta(ge=0, le=7 * 24 * 3600)]


# --- notifications --------------------------------------------------------------------------------


class NotificationRead(Response):
    id: uuid.UUID
    type: str
    title: str
    body: str
    organization_id: uuid.UUID | None
    organization_slug: str | None
    object_type: str
    object_id: str
    link: str
    """API path of the object (empty when there is none)."""
    data: dict[str, Any]
    read: bool
    read_at: dt.datetime | None
    created_at: dt.datetime


class NotificationPage(Response):
    """Unread first, then newest first."""

    items: list[NotificationRead]
    next_cursor: str | None = None


class UnreadCount(Response):
    unread: int


class ReadAllResult(Response):
    marked: int
    """How many notifications this marked as read."""


class PreferenceItem(Response):
    type: str
    description: str
    recipients: str
    """Who receives notifications of this type."""
    enabled: bool


class PreferencesRead(Response):
    events: list[PreferenceItem]


class PreferencesUpdate(Request):
    """Turn notification types on (true) or off (false); types not named keep their setting."""

    events: Annotated[dict[str, bool], msgspec.Meta(max_length=64, examples=[{"execution.planned": False}])]


class WatchRead(Response):
    pipeline_id: uuid.UUID
    watching: bool
    reason: Literal["watching", "not-watching", "creator", "started-executions", "none"]
    """Why: an explicit choice (watching, not-watching), or what made the caller a watcher."""


class EventTypeRead(Response):
    type: str
    description: str
    notifies: str | None
    """Who gets a notification for it, if anyone."""


# --- webhooks -------------------------------------------------------------------------------------


class WebhookCreate(Request):
    name: WebhookName
    url: WebhookUrl
    events: Annotated[list[EventPattern], msgspec.Meta(min_length=1, max_length=50)]
    """Event types (GET /api/v1/event-types), whole domains (`execution.*`) or `*`."""
    format: WebhookFormat = "json"
    """`json`: Board3's versioned envelope; `slack`: a message Slack's incoming webhooks accept."""
    enabled: bool = True


class WebhookUpdate(Request):
    name: WebhookName | msgspec.UnsetType = msgspec.UNSET
    url: WebhookUrl | msgspec.UnsetType = msgspec.UNSET
    events: Annotated[list[EventPattern], msgspec.Meta(min_length=1, max_length=50)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    format: WebhookFormat | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    """Enabling resets the count of consecutive failures."""


class WebhookRead(Response):
    id: uuid.UUID
    name: str
    url: str
    events: list[str]
    format: str
    enabled: bool
    disabled_reason: str | None
    disabled_at: dt.datetime | None
    consecutive_failures: int
    secret_prefix: str
    """The first characters of the current secret, to tell secrets apart (the secret is shown once)."""
    previous_secret_expires_at: dt.datetime | None
    """While a rotated secret still signs deliveries, until when."""
    created_by: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime
    last_delivery_at: dt.datetime | None
    last_success_at: dt.datetime | None


class WebhookList(Response):
    items: list[WebhookRead]


class WebhookWithSecret(Response):
    """The signing secret is in ``secret``; it is shown only in this response."""

    webhook: WebhookRead
    secret: str


class SecretRotate(Request):
    grace_seconds: GraceSeconds | None = None
    """Seconds the old secret keeps signing (default BOARD3_WEBHOOK_SECRET_GRACE; 0 ends it now)."""


class AttemptRead(Response):
    number: int
    outcome: str
    """in_progress, succeeded, retry, failed, or lost (its worker stopped mid-way)."""
    status_code: int | None
    response_excerpt: str | None
    error: str | None
    duration_ms: int | None
    started_at: dt.datetime
    finished_at: dt.datetime | None


class DeliveryRead(Response):
    id: uuid.UUID
    """Sent as the Board3-Delivery header: the same on every attempt."""
    webhook_id: uuid.UUID
    event_id: uuid.UUID | None
    event_type: str
    status: str
    """pending, delivering, succeeded, failed (given up) or canceled (the webhook was disabled)."""
    manual: bool
    """A test or a redelivery: tried once, never counted against the webhook."""
    redelivery_of: uuid.UUID | None
    attempt_count: int
    next_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


class DeliveryDetail(DeliveryRead):
    payload: str
    """The body sent, exactly."""
    attempts: list[AttemptRead]


class DeliveryPage(Response):
    items: list[DeliveryRead]
    next_cursor: str | None = None


# --- invitations ----------------------------------------------------------------------------------


class InvitationCreate(Request):
    email: Email
    role: RoleName = "developer"


class InvitationRead(Response):
    id: uuid.UUID
    organization_slug: str
    email: str
    role: str
    status: Literal["pending", "expired", "accepted", "revoked"]
    invited_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    last_sent_at: dt.datetime
    send_count: int
    accepted_at: dt.datetime | None
    revoked_at: dt.datetime | None


class InvitationList(Response):
    items: list[InvitationRead]


class InvitationAccept(Request):
    """Signed in (Authorization header): send nothing. Without an account: a name and a password
    create one with the invited email."""

    name: PersonName | None = None
    password: Password | None = None


class InvitationAccepted(Response):
    organization: OrganizationRead
    role: str
    user: UserRead
    access_token: str | None = None
    """Set when the invitation created the account (as POST /api/v1/auth/register does)."""
    refresh_token: str | None = None
    expires_in: int | None = None
