"""An organization's webhooks (``org:admin``): create, read, change, delete, rotate the secret.

The signing secret is shown once, at creation and at rotation; it is stored envelope-encrypted
(``app.lib.crypto``) bound to its organization, webhook and row, because signing needs it back.
A URL passes the SSRF guard when it is saved and again at every delivery.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec

from app.accounts.authz import Access, Principal, access_for_org, scoped
from app.config import Settings
from app.db import transaction
from app.events import audit
from app.lib import crypto
from app.lib.clock import utcnow
from app.lib.errors import FieldError, NotFound, ValidationFailed, not_found
from app.notifications import catalog, signing
from app.notifications.outbound import Unresolvable, checked_addresses
from app.notifications.schemas import (
    SecretRotate,
    WebhookCreate,
    WebhookList,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)
from app.notifications.ssrf import Refused, parse_target
from app.notifications.tables import Webhook, WebhookDelivery, WebhookSecret, secret_context

PERMISSION = "org:admin"


async def url_errors(url: str, allow_private: bool, field: str = "url") -> list[FieldError]:
    """The SSRF guard at save time: the URL's form, and where its host resolves now (a name that
    does not resolve yet is accepted; every delivery checks again)."""
    try:
        await checked_addresses(parse_target(url), allow_private)
    except Refused as exc:
        return [FieldError(field, str(exc))]
    except Unresolvable:
        pass
    return []


def _host(url: str) -> str:
    """Only the scheme and host go to the audit log: a URL's path may itself be a credential (Slack's are)."""
    try:
        target = parse_target(url)
    except Refused:
        return ""
    return f"{target.scheme}://{target.authority}"


async def _secrets(webhook_ids: list[uuid.UUID], now: dt.datetime) -> dict[uuid.UUID, dict[str, Any]]:
    """Per webhook: the current secret's prefix and when a rotated one stops signing."""
    found: dict[uuid.UUID, dict[str, Any]] = {w: {"prefix": "", "previous": None} for w in webhook_ids}
    if not webhook_ids:
        return found
    rows = await WebhookSecret.select(
        WebhookSecret.webhook, WebhookSecret.prefix, WebhookSecret.expires_at
    ).where(WebhookSecret.webhook.is_in(webhook_ids))
    for row in rows:
        entry = found[row["webhook"]]
        if row["expires_at"] is None:
            entry["prefix"] = row["prefix"]
        elif row["expires_at"] > now:
            entry["previous"] = max(filter(None, [entry["previous"], row["expires_at"]]))
    return found


def webhook_read(row: dict[str, Any], secret: dict[str, Any]) -> WebhookRead:
    events = row["events"]
    return WebhookRead(
        id=row["id"],
        name=row["name"],
        url=row["url"],
        events=list(events) if isinstance(events, list) else msgspec.json.decode(events),
        format=row["format"],
        enabled=row["enabled"],
        disabled_reason=row["disabled_reason"],
        disabled_at=row["disabled_at"],
        consecutive_failures=row["consecutive_failures"],
        secret_prefix=secret["prefix"],
        previous_secret_expires_at=secret["previous"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_delivery_at=row["last_delivery_at"],
        last_success_at=row["last_success_at"],
    )


async def _one(webhook_id: uuid.UUID) -> WebhookRead:
    row = await Webhook.select().where(Webhook.id == webhook_id).first().output(load_json=True)
    if row is None:
        raise not_found("webhook")
    return webhook_read(row, (await _secrets([webhook_id], utcnow()))[webhook_id])


async def webhook_access(principal: Principal, webhook_id: uuid.UUID) -> Access:
    """Access to a webhook's organization with ``org:admin``; another tenant's webhook is 404."""
    row = await Webhook.select(Webhook.organization).where(Webhook.id == webhook_id).first()
    if row is None:
        raise not_found("webhook")
    try:
        access = await access_for_org(principal, org_id=row["organization"])
    except NotFound:
        raise not_found("webhook") from None
    access.require(PERMISSION)
    return access


async def _new_secret(access: Access, webhook_id: uuid.UUID, now: dt.datetime) -> str:
    """Store a fresh current secret for the webhook (inside the caller's transaction)."""
    secret = signing.new_secret()
    secret_id = uuid.uuid4()
    sealed = await crypto.encrypt(
        secret.encode(), context=secret_context(access.organization_id, webhook_id, secret_id)
    )
    await WebhookSecret.insert(
        WebhookSecret(
            id=secret_id,
            organization=access.organization_id,
            webhook=webhook_id,
            prefix=signing.display_prefix(secret),
            enc_format=sealed.format,
            key_id=sealed.key_id,
            wrapped_key=sealed.wrapped_key,
            ciphertext=sealed.ciphertext,
            created_at=now,
        )
    )
    return secret


async def create_webhook(
    principal: Principal, slug: str, data: WebhookCreate, settings: Settings
) -> WebhookWithSecret:
    access = await access_for_org(principal, slug=slug, permission=PERMISSION)
    errors = catalog.pattern_errors(data.events)
    if not data.name.strip():
        errors.append(FieldError("name", "must not be blank"))
    errors += await url_errors(data.url, settings.notify.webhook_allow_private)
    if errors:
        raise ValidationFailed(f"invalid value for {', '.join(e.field for e in errors)}", errors=errors)
    now = utcnow()
    webhook_id = uuid.uuid4()
    events = catalog.normalize(data.events)
    async with transaction():
        await Webhook.insert(
            Webhook(
                id=webhook_id,
                organization=access.organization_id,
                name=data.name.strip(),
                url=data.url,
                events=events,
                format=data.format,
                enabled=data.enabled,
                created_by=principal.user_id,
                created_at=now,
                updated_at=now,
            )
        )
        secret = await _new_secret(access, webhook_id, now)
        await audit.record(
            principal,
            "webhook.create",
            organization_id=access.organization_id,
            object_type="webhook",
            object_id=webhook_id,
            details={"name": data.name, "host": _host(data.url), "events": events, "format": data.format},
        )
    return WebhookWithSecret(webhook=await _one(webhook_id), secret=secret)


async def list_webhooks(principal: Principal, slug: str) -> WebhookList:
    access = await access_for_org(principal, slug=slug, permission=PERMISSION)
    rows = (
        await scoped(Webhook, access, *Webhook.all_columns())
        .order_by(Webhook.created_at)
        .output(load_json=True)
    )
    found = await _secrets([r["id"] for r in rows], utcnow())
    return WebhookList(items=[webhook_read(r, found[r["id"]]) for r in rows])


async def get_webhook(principal: Principal, webhook_id: uuid.UUID) -> WebhookRead:
    await webhook_access(principal, webhook_id)
    return await _one(webhook_id)


async def cancel_pending(webhook_id: uuid.UUID, reason: str) -> None:
    """A disabled webhook's waiting deliveries are canceled (they can be redelivered by hand)."""
    now = utcnow()
    await WebhookDelivery.update(
        {
            WebhookDelivery.status: "canceled",
            WebhookDelivery.last_error: reason,
            WebhookDelivery.next_attempt_at: None,
            WebhookDelivery.finished_at: now,
            WebhookDelivery.updated_at: now,
        }
    ).where((WebhookDelivery.webhook == webhook_id) & (WebhookDelivery.status == "pending"))


async def update_webhook(
    principal: Principal, webhook_id: uuid.UUID, data: WebhookUpdate, settings: Settings
) -> WebhookRead:
    access = await webhook_access(principal, webhook_id)
    errors: list[FieldError] = []
    changes: dict[Any, Any] = {}
    details: dict[str, Any] = {}
    if isinstance(data.name, str):
        if not data.name.strip():
            errors.append(FieldError("name", "must not be blank"))
        changes[Webhook.name] = details["name"] = data.name.strip()
    if isinstance(data.url, str):
        errors += await url_errors(data.url, settings.notify.webhook_allow_private)
        changes[Webhook.url] = data.url
        details["host"] = _host(data.url)
    if isinstance(data.events, list):
        errors += catalog.pattern_errors(data.events)
        changes[Webhook.events] = details["events"] = catalog.normalize(data.events)
    if isinstance(data.format, str):
        changes[Webhook.format] = details["format"] = data.format
    if isinstance(data.enabled, bool):
        changes[Webhook.enabled] = details["enabled"] = data.enabled
        if data.enabled:
            changes |= {
                Webhook.consecutive_failures: 0,
                Webhook.disabled_reason: None,
                Webhook.disabled_at: None,
            }
        else:
            changes |= {Webhook.disabled_reason: "disabled by hand", Webhook.disabled_at: utcnow()}
    if errors:
        raise ValidationFailed(f"invalid value for {', '.join(e.field for e in errors)}", errors=errors)
    if changes:
        async with transaction():
            changes[Webhook.updated_at] = utcnow()
            await Webhook.update(changes).where(Webhook.id == webhook_id)
            if data.enabled is False:
                await cancel_pending(webhook_id, "the webhook was disabled")
            await audit.record(
                principal,
                "webhook.update",
                organization_id=access.organization_id,
                object_type="webhook",
                object_id=webhook_id,
                details=details,
            )
    return await _one(webhook_id)


async def delete_webhook(principal: Principal, webhook_id: uuid.UUID) -> None:
    """Deletes its deliveries and their history with it."""
    access = await webhook_access(principal, webhook_id)
    async with transaction():
        await Webhook.delete().where(Webhook.id == webhook_id)
        await audit.record(
            principal,
            "webhook.delete",
            organization_id=access.organization_id,
            object_type="webhook",
            object_id=webhook_id,
        )


async def rotate_secret(
    principal: Principal, webhook_id: uuid.UUID, data: SecretRotate, settings: Settings
) -> WebhookWithSecret:
    """A new current secret; the old one keeps signing (beside it) for the grace period, so
    receivers can switch without losing deliveries. Older rotated secrets end now."""
    access = await webhook_access(principal, webhook_id)
    grace = settings.notify.webhook_secret_grace if data.grace_seconds is None else data.grace_seconds
    now = utcnow()
    async with transaction():
        await WebhookSecret.delete().where(
            (WebhookSecret.webhook == webhook_id) & WebhookSecret.expires_at.is_not_null()
        )
        if grace > 0:
            await WebhookSecret.update({WebhookSecret.expires_at: now + dt.timedelta(seconds=grace)}).where(
                (WebhookSecret.webhook == webhook_id) & WebhookSecret.expires_at.is_null()
            )
        else:
            await WebhookSecret.delete().where(WebhookSecret.webhook == webhook_id)
        secret = await _new_secret(access, webhook_id, now)
        await Webhook.update({Webhook.updated_at: now}).where(Webhook.id == webhook_id)
        await audit.record(
            principal,
            "webhook.rotate_secret",
            organization_id=access.organization_id,
            object_type="webhook",
            object_id=webhook_id,
            details={"grace_seconds": grace, "prefix": signing.display_prefix(secret)},
        )
    return WebhookWithSecret(webhook=await _one(webhook_id), secret=secret)


async def signing_secrets(organization_id: uuid.UUID, webhook_id: uuid.UUID, now: dt.datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one first, then a rotated one in its grace."""
    rows = await WebhookSecret.select().where(
        (WebhookSecret.webhook == webhook_id)
        & (WebhookSecret.expires_at.is_null() | (WebhookSecret.expires_at > now))
    )
    rows.sort(key=lambda r: (r["expires_at"] is not None, r["created_at"]))
    found = []
    for row in rows:
        envelope = crypto.Envelope(row["enc_format"], row["key_id"], row["wrapped_key"], row["ciphertext"])
        plain = await crypto.decrypt(envelope, context=secret_context(organization_id, webhook_id, row["id"]))
        found.append(plain.decode())
    return found
