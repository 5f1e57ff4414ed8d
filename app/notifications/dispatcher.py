"""Sending webhook deliveries: every worker process (and an embedded server) runs a dispatcher.

Each tick claims due deliveries with one conditional UPDATE (``pending`` and due -> ``delivering``
under a lease, an attempt row written in the same transaction), so several dispatchers never send
one attempt twice. A claimed delivery is signed, sent through the SSRF guard
(``app.notifications.outbound``), and its attempt recorded; then it is done, scheduled again
(exponential backoff with jitter, ``app.notifications.retry``) or given up. A dispatcher that
dies mid-delivery leaves a ``delivering`` row whose lease expires: any dispatcher's recovery puts
it back to ``pending`` and marks the attempt ``lost``; the receiver sees the same Board3-Delivery
id again and can tell. After ``BOARD3_WEBHOOK_DISABLE_AFTER`` consecutive failed deliveries the
webhook is disabled and the organization's admins are notified (``webhook.disabled``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import time
import uuid
import weakref
from typing import Any

from app.config import Settings
from app.db import transaction
from app.events import audit
from app.events.bus import emit
from app.lib.clock import utcnow
from app.lib.crypto import DecryptionError
from app.lib.principal import Principal
from app.notifications import outbound, signing
from app.notifications.retry import AttemptResult, Decision, decide
from app.notifications.tables import Webhook, WebhookAttempt, WebhookDelivery
from app.notifications.webhooks import cancel_pending, signing_secrets

log = logging.getLogger("board3.notifications.webhooks")

SYSTEM = Principal(kind="system", id=uuid.UUID(int=0), label="board3")
USER_AGENT = "Board3-Webhooks/1"
POLL_SECONDS = 1.0
RECOVER_SECONDS = 5.0

_local: weakref.WeakSet[Dispatcher] = weakref.WeakSet()


async def wake() -> None:
    """New deliveries are due: dispatchers in this process look now instead of at their next poll."""
    for dispatcher in list(_local):
        dispatcher.poke()


def lease_seconds(settings: Settings) -> int:
    """Long enough for one attempt (the name's lookup and the request's timeout), plus the workers'
    usual grace."""
    return int(outbound.RESOLVE_TIMEOUT) + settings.notify.webhook_timeout + settings.worker.lease_seconds


async def claim(
    worker_id: str, limit: int, lease: int, webhooks: list[uuid.UUID] | None = None
) -> list[uuid.UUID]:
    """Take up to ``limit`` due deliveries (of ``webhooks`` only, when given) for this worker;
    write their attempt rows."""
    now = utcnow()
    query = WebhookDelivery.select(WebhookDelivery.id).where(
        (WebhookDelivery.status == "pending")
        & (WebhookDelivery.next_attempt_at <= now)
        & ((WebhookDelivery.webhook._.enabled == True) | (WebhookDelivery.manual == True))  # noqa: E712
    )
    if webhooks is not None:
        query = query.where(WebhookDelivery.webhook.is_in(webhooks))
    due = await query.order_by(WebhookDelivery.next_attempt_at).limit(limit)
    if not due:
        return []
    async with transaction():
        taken = (
            await WebhookDelivery.update(
                {
                    WebhookDelivery.status: "delivering",
                    WebhookDelivery.worker_id: worker_id,
                    WebhookDelivery.lease_expires_at: now + dt.timedelta(seconds=lease),
                    WebhookDelivery.attempts: WebhookDelivery.attempts + 1,
                    WebhookDelivery.updated_at: now,
                },
                use_auto_update=False,
            )
            .where(WebhookDelivery.id.is_in([r["id"] for r in due]) & (WebhookDelivery.status == "pending"))
            .returning(WebhookDelivery.id, WebhookDelivery.organization, WebhookDelivery.attempts)
        )
        if taken:
            await WebhookAttempt.insert(
                *[
                    WebhookAttempt(
                        organization=t["organization"],
                        delivery=t["id"],
                        number=t["attempts"],
                        outcome="in_progress",
                        worker_id=worker_id,
                        started_at=now,
                    )
                    for t in taken
                ]
            )
    return [t["id"] for t in taken]


async def recover() -> int:
    """Deliveries whose dispatcher stopped answering (lease expired) are due again at once; the
    attempt it was making is recorded as lost. Returns how many."""
    now = utcnow()
    expired = (WebhookDelivery.status == "delivering") & (WebhookDelivery.lease_expires_at < now)
    if not await WebhookDelivery.exists().where(expired):  # the usual case: no write transaction
        return 0
    async with transaction():
        lost = (
            await WebhookDelivery.update(
                {
                    WebhookDelivery.status: "pending",
                    WebhookDelivery.next_attempt_at: now,
                    WebhookDelivery.worker_id: None,
                    WebhookDelivery.lease_expires_at: None,
                    WebhookDelivery.updated_at: now,
                },
                use_auto_update=False,
            )
            .where(expired)
            .returning(WebhookDelivery.id)
        )
        if lost:
            await WebhookAttempt.update(
                {
                    WebhookAttempt.outcome: "lost",
                    WebhookAttempt.error: "the worker sending it stopped before it finished",
                    WebhookAttempt.finished_at: now,
                }
            ).where(
                WebhookAttempt.delivery.is_in([r["id"] for r in lost])
                & (WebhookAttempt.outcome == "in_progress")
            )
    if lost:
        log.warning("webhooks: %d deliveries recovered from lost workers", len(lost))
    return len(lost)


async def deliver(delivery_id: uuid.UUID, worker_id: str, settings: Settings) -> Decision | None:
    """Send one claimed delivery and record the attempt. None when it is no longer this worker's."""
    row = (
        await WebhookDelivery.select(*WebhookDelivery.all_columns(), WebhookDelivery.webhook._.url)
        .where(
            (WebhookDelivery.id == delivery_id)
            & (WebhookDelivery.status == "delivering")
            & (WebhookDelivery.worker_id == worker_id)
        )
        .first()
    )
    if row is None:
        return None
    log.info("webhook delivery %s attempt %d started", delivery_id, row["attempts"])
    notify = settings.notify
    now = utcnow()
    stamp = int(now.timestamp())
    body = row["payload"].encode()
    try:
        secrets = await signing_secrets(row["organization"], row["webhook"], now)
    except DecryptionError as exc:
        sent = outbound.Sent(AttemptResult(failure="internal", error=f"cannot sign: {exc}"), None, 0, None)
    else:
        headers = [
            ("Content-Type", "application/json"),
            ("User-Agent", USER_AGENT),
            ("Board3-Event", row["event_type"]),
            ("Board3-Delivery", str(delivery_id)),
            ("Board3-Timestamp", str(stamp)),
            (signing.HEADER, signing.header(secrets, stamp, body)),
        ]
        sent = await outbound.post(
            row["webhook.url"],
            body,
            headers,
            allow_private=notify.webhook_allow_private,
            timeout=notify.webhook_timeout,
        )
    decision = decide(
        sent.result,
        attempts=row["attempts"],
        created_at=row["created_at"],
        now=utcnow(),
        base=notify.webhook_retry_base,
        window=notify.webhook_retry_window,
        manual=row["manual"],
        draw=random.random(),  # noqa: S311 (jitter, not a secret)
    )
    await record(row, sent, decision, worker_id, settings)
    log.info(
        "webhook delivery %s attempt %d finished: %s (%s)",
        delivery_id,
        row["attempts"],
        decision.outcome,
        sent.result.status_code or sent.result.failure,
    )
    return decision


async def record(
    row: dict[str, Any], sent: outbound.Sent, decision: Decision, worker_id: str, settings: Settings
) -> None:
    """The attempt's outcome, the delivery's next step, the webhook's failure count (one transaction)."""
    now = utcnow()
    result = sent.result
    fields: dict[Any, Any] = {
        WebhookDelivery.worker_id: None,
        WebhookDelivery.lease_expires_at: None,
        WebhookDelivery.last_status_code: result.status_code,
        WebhookDelivery.last_error: None if decision.outcome == "succeeded" else decision.reason,
        WebhookDelivery.updated_at: now,
    }
    if decision.outcome == "retry":
        fields |= {
            WebhookDelivery.status: "pending",
            WebhookDelivery.next_attempt_at: decision.next_attempt_at,
        }
    else:
        fields |= {
            WebhookDelivery.status: decision.outcome,
            WebhookDelivery.next_attempt_at: None,
            WebhookDelivery.finished_at: now,
        }
    async with transaction():
        await WebhookAttempt.update(
            {
                WebhookAttempt.outcome: decision.outcome,
                WebhookAttempt.status_code: result.status_code,
                WebhookAttempt.response_excerpt: sent.excerpt,
                WebhookAttempt.error: result.error if result.failure else None,
                WebhookAttempt.duration_ms: sent.duration_ms,
                WebhookAttempt.finished_at: now,
            }
        ).where((WebhookAttempt.delivery == row["id"]) & (WebhookAttempt.number == row["attempts"]))
        moved = (
            await WebhookDelivery.update(fields, use_auto_update=False)
            .where(
                (WebhookDelivery.id == row["id"])
                & (WebhookDelivery.status == "delivering")
                & (WebhookDelivery.worker_id == worker_id)
            )
            .returning(WebhookDelivery.id)
        )
        if moved:
            await _count(row, decision, settings, now)


async def _count(row: dict[str, Any], decision: Decision, settings: Settings, now: dt.datetime) -> None:
    """Consecutive failed deliveries per webhook; enough of them disable it."""
    hook = Webhook.id == row["webhook"]
    if row["manual"] or decision.outcome == "retry":
        await Webhook.update({Webhook.last_delivery_at: now}, use_auto_update=False).where(hook)
        return
    if decision.outcome == "succeeded":
        await Webhook.update(
            {Webhook.consecutive_failures: 0, Webhook.last_delivery_at: now, Webhook.last_success_at: now},
            use_auto_update=False,
        ).where(hook)
        return
    counted = (
        await Webhook.update(
            {Webhook.consecutive_failures: Webhook.consecutive_failures + 1, Webhook.last_delivery_at: now},
            use_auto_update=False,
        )
        .where(hook)
        .returning(Webhook.consecutive_failures)
    )
    failures = counted[0]["consecutive_failures"] if counted else 0
    if failures >= settings.notify.webhook_disable_after:
        await _disable(row, failures, decision.reason or "deliveries failed", now)


async def _disable(row: dict[str, Any], failures: int, last: str, now: dt.datetime) -> None:
    reason = f"{failures} deliveries in a row failed; the last: {last}"
    disabled = (
        await Webhook.update(
            {
                Webhook.enabled: False,
                Webhook.disabled_reason: reason,
                Webhook.disabled_at: now,
                Webhook.updated_at: now,
            },
            use_auto_update=False,
        )
        .where((Webhook.id == row["webhook"]) & (Webhook.enabled == True))  # noqa: E712
        .returning(Webhook.name)
    )
    if not disabled:
        return
    await cancel_pending(row["webhook"], "the webhook was disabled")
    data = {
        "webhook_id": str(row["webhook"]),
        "name": disabled[0]["name"],
        "failures": failures,
        "reason": reason,
    }
    await audit.record(
        SYSTEM,
        "webhook.disable",
        organization_id=row["organization"],
        object_type="webhook",
        object_id=row["webhook"],
        details=data,
    )
    await emit(
        SYSTEM,
        "webhook.disabled",
        organization_id=row["organization"],
        object_type="webhook",
        object_id=row["webhook"],
        data=data,
    )
    log.warning("webhook %s disabled: %s", row["webhook"], reason)


class Dispatcher:
    """One process's webhook sender: polls for due deliveries (and is woken when this process
    makes some), sends at most ``BOARD3_WEBHOOK_CONCURRENCY`` at once, and recovers lost ones."""

    def __init__(self, worker_id: str, settings: Settings) -> None:
        self.worker_id = worker_id
        self.settings = settings
        self.running: set[asyncio.Task[Any]] = set()
        self.poked = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._loop())
        _local.add(self)

    def poke(self) -> None:
        self.poked.set()

    async def tick(self) -> int:
        """Claim and start what is due and fits; how many were started."""
        free = self.settings.notify.webhook_concurrency - len(self.running)
        if free <= 0:
            return 0
        claimed = await claim(self.worker_id, free, lease_seconds(self.settings))
        for delivery_id in claimed:
            task = asyncio.create_task(self._send(delivery_id))
            self.running.add(task)
            task.add_done_callback(self._done)
        return len(claimed)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.running.discard(task)
        self.poke()  # a slot is free: more may be waiting

    async def _send(self, delivery_id: uuid.UUID) -> None:
        try:
            await deliver(delivery_id, self.worker_id, self.settings)
        except Exception:  # the lease expires and the recovery hands it out again
            log.exception("webhook delivery %s failed unexpectedly", delivery_id)

    async def _loop(self) -> None:
        recovered_at = 0.0
        while True:
            self.poked.clear()
            try:
                if time.monotonic() - recovered_at >= RECOVER_SECONDS:
                    await recover()
                    recovered_at = time.monotonic()
                await self.tick()
            except Exception as exc:  # the database may be away: try again next round
                log.warning("webhook dispatch failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.poked.wait(), POLL_SECONDS)

    async def stop(self) -> None:
        _local.discard(self)
        tasks = [t for t in [self.task, *self.running] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
