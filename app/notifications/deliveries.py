"""Webhook deliveries: made from domain events (one per matching webhook, in the emitting
transaction), listed with their attempts, tested and redelivered by hand.

A delivery row is its own job: ``app.notifications.dispatcher`` claims due rows with a
conditional UPDATE, sends them and records every attempt.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.accounts.authz import Principal, access_for_org
from app.accounts.tables import Organization
from app.config import get_settings
from app.db import after_commit, transaction
from app.events import audit
from app.events.bus import DomainEvent
from app.lib.clock import utcnow
from app.lib.errors import NotFound, not_found
from app.lib.pagination import Keyset
from app.notifications import catalog, dispatcher
from app.notifications.payloads import Event, render
from app.notifications.schemas import AttemptRead, DeliveryDetail, DeliveryPage, DeliveryRead
from app.notifications.tables import Webhook, WebhookAttempt, WebhookDelivery
from app.notifications.webhooks import PERMISSION, webhook_access

SUMMARY = [c for c in WebhookDelivery.all_columns() if c._meta.name != "payload"]


def _delivery(
    organization: uuid.UUID,
    webhook: uuid.UUID,
    event: Event,
    body: bytes,
    *,
    manual: bool = False,
    redelivery_of: uuid.UUID | None = None,
) -> WebhookDelivery:
    now = utcnow()
    return WebhookDelivery(
        id=uuid.uuid4(),
        organization=organization,
        webhook=webhook,
        event_id=event.id,
        event_type=event.type,
        payload=body.decode(),
        status="pending",
        manual=manual,
        redelivery_of=redelivery_of,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


async def fan_out(event: DomainEvent) -> None:
    """Subscriber: a delivery for every enabled webhook of the organization that wants the event."""
    hooks = (
        await Webhook.select(Webhook.id, Webhook.events, Webhook.format)
        .where((Webhook.organization == event.organization_id) & (Webhook.enabled == True))  # noqa: E712
        .output(load_json=True)
    )
    wanted = [h for h in hooks if catalog.matches(h["events"] or [], event.type)]
    if not wanted:
        return
    org = await Organization.select(Organization.slug).where(Organization.id == event.organization_id).first()
    subject = Event(
        id=event.id,
        type=event.type,
        created_at=event.created_at,
        organization_id=event.organization_id,
        organization_slug=org["slug"] if org else "",
        object_type=event.object_type,
        object_id=event.object_id,
        actor_type=event.actor_type,
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        data=event.data,
    )
    base_url = get_settings().server.public_url or ""
    rows = [
        _delivery(event.organization_id, h["id"], subject, render(h["format"], subject, base_url))
        for h in wanted
    ]
    await WebhookDelivery.insert(*rows)
    await after_commit(dispatcher.wake)


def delivery_read(row: dict[str, Any]) -> DeliveryRead:
    return DeliveryRead(
        id=row["id"],
        webhook_id=row["webhook"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        status=row["status"],
        manual=row["manual"],
        redelivery_of=row["redelivery_of"],
        attempt_count=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
    )


async def list_deliveries(
    principal: Principal,
    webhook_id: uuid.UUID,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> DeliveryPage:
    await webhook_access(principal, webhook_id)
    query = WebhookDelivery.select(*SUMMARY).where(WebhookDelivery.webhook == webhook_id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    keyset = Keyset(WebhookDelivery.created_at, WebhookDelivery.id)
    rows = await keyset.apply(query, cursor, limit)
    page, next_cursor = keyset.page(rows, limit)
    return DeliveryPage(items=[delivery_read(r) for r in page], next_cursor=next_cursor)


async def _delivery_access(principal: Principal, delivery_id: uuid.UUID) -> dict[str, Any]:
    row = await WebhookDelivery.select().where(WebhookDelivery.id == delivery_id).first()
    if row is None:
        raise not_found("delivery")
    try:
        access = await access_for_org(principal, org_id=row["organization"])
    except NotFound:
        raise not_found("delivery") from None
    access.require(PERMISSION)
    return dict(row)


async def get_delivery(principal: Principal, delivery_id: uuid.UUID) -> DeliveryDetail:
    row = await _delivery_access(principal, delivery_id)
    attempts = (
        await WebhookAttempt.select()
        .where(WebhookAttempt.delivery == delivery_id)
        .order_by(WebhookAttempt.number)
    )
    return DeliveryDetail(
        **{f: getattr(delivery_read(row), f) for f in DeliveryRead.__struct_fields__},
        payload=row["payload"],
        attempts=[
            AttemptRead(
                number=a["number"],
                outcome=a["outcome"],
                status_code=a["status_code"],
                response_excerpt=a["response_excerpt"],
                error=a["error"],
                duration_ms=a["duration_ms"],
                started_at=a["started_at"],
                finished_at=a["finished_at"],
            )
            for a in attempts
        ],
    )


async def _manual(
    principal: Principal, row: WebhookDelivery, action: str, details: dict[str, Any]
) -> DeliveryRead:
    async with transaction():
        await WebhookDelivery.insert(row)
        await audit.record(
            principal,
            action,
            organization_id=row.organization,
            object_type="webhook",
            object_id=row.webhook,
            details={"delivery_id": str(row.id), **details},
        )
    await dispatcher.wake()
    created = await WebhookDelivery.select(*SUMMARY).where(WebhookDelivery.id == row.id).first()
    if created is None:  # deleted with its webhook meanwhile
        raise not_found("delivery")
    return delivery_read(created)


async def send_test(principal: Principal, webhook_id: uuid.UUID) -> DeliveryRead:
    """A ``webhook.test`` delivery, sent once whatever the webhook's filter and even while it is
    disabled (to check a receiver before enabling it again)."""
    access = await webhook_access(principal, webhook_id)
    hook = await Webhook.select(Webhook.format).where(Webhook.id == webhook_id).first()
    event = Event(
        id=uuid.uuid4(),
        type=catalog.TEST_EVENT,
        created_at=utcnow(),
        organization_id=access.organization_id,
        organization_slug=access.organization_slug,
        object_type="webhook",
        object_id=str(webhook_id),
        actor_type=principal.kind,
        actor_id=principal.actor_id,
        actor_label=principal.label[:320],
        data={"webhook_id": str(webhook_id), "message": "This is a test delivery from Board3."},
    )
    body = render(hook["format"] if hook else "json", event, get_settings().server.public_url or "")
    row = _delivery(access.organization_id, webhook_id, event, body, manual=True)
    return await _manual(principal, row, "webhook.test", {})


async def redeliver(principal: Principal, delivery_id: uuid.UUID) -> DeliveryRead:
    """The same body again, as a new delivery (a new Board3-Delivery id; the event id in the body
    is the original's), sent once."""
    original = await _delivery_access(principal, delivery_id)
    event = Event(
        id=original["event_id"] or uuid.uuid4(),
        type=original["event_type"],
        created_at=utcnow(),
        organization_id=original["organization"],
        organization_slug="",
    )
    body = original["payload"].encode()
    row = _delivery(
        original["organization"], original["webhook"], event, body, manual=True, redelivery_of=delivery_id
    )
    return await _manual(principal, row, "webhook.redeliver", {"redelivery_of": str(delivery_id)})
