"""The dispatcher in process, against a real receiver on 127.0.0.1: signed deliveries, retries
with backoff, giving up, disabling a webhook that keeps failing, recovering a lost attempt, and
the SSRF guard again at delivery time."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from app.events.bus import DomainEvent
from app.lib import runtime
from app.lib.clock import utcnow
from app.lib.gate import MemoryGate
from app.notifications import dispatcher
from app.notifications.subscribers import SUBSCRIBERS
from app.notifications.tables import Notification, WebhookDelivery
from tests.notifications.helpers import create_webhook, point_at, settings_with, team
from tests.notifications.support import Receiver, canary, receiving

WORKER = "test-worker"
FAST = {"webhook_allow_private": True, "webhook_retry_base": 1, "webhook_timeout": 3}


async def run(hook_id: str, settings, until, timeout: float = 30, limit: int = 10) -> None:
    """Claim and send the webhook's due deliveries (as a worker would) until ``until()`` holds."""
    deadline = time.monotonic() + timeout
    while not await until():
        assert time.monotonic() < deadline, "deliveries did not settle in time"
        for delivery_id in await dispatcher.claim(WORKER, limit, 30, webhooks=[uuid.UUID(hook_id)]):
            await dispatcher.deliver(delivery_id, WORKER, settings)
        await asyncio.sleep(0.1)


async def detail(client, owner, delivery_id: str) -> dict:
    return (await client.get(f"/api/v1/deliveries/{delivery_id}", headers=owner.headers)).json()


async def settled(hook_id: str, count: int = 1):
    async def check() -> bool:
        rows = await WebhookDelivery.select(WebhookDelivery.status).where(
            WebhookDelivery.webhook == uuid.UUID(hook_id)
        )
        return len(rows) >= count and all(r["status"] in ("succeeded", "failed", "canceled") for r in rows)

    return check


async def test_a_signed_delivery_is_retried_after_5xx_and_delivered_once(client, api) -> None:
    owner, _ = await team(api, "disp")
    hook_id, secret, _ = await create_webhook(client, owner, events=["member.added"])
    with receiving(Receiver(script=[500, 503], secret=secret)) as receiver:
        await point_at(hook_id, receiver.url)
        joiner = await api.register("disp-joiner")
        await api.add_member(owner, joiner, "viewer")
        await run(hook_id, settings_with(**FAST), await settled(hook_id))
        assert [r.status for r in receiver.received] == [500, 503, 200]
        assert all(r.verified for r in receiver.received)  # by the code docs/webhooks.md gives
        ids = {r.headers["board3-delivery"] for r in receiver.received}
        [delivery] = (
            await client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=owner.headers)
        ).json()["items"]
        assert (
            ids == {delivery["id"]} and delivery["status"] == "succeeded" and delivery["attempt_count"] == 3
        )
        first = receiver.received[0]
        assert (
            first.headers["board3-event"] == "member.added"
            and first.headers["content-type"] == "application/json"
        )
        assert first.headers["board3-signature"].startswith(f"t={first.headers['board3-timestamp']},v1=")
        assert json.loads(first.body)["data"]["email"] == joiner.email
        attempts = (await detail(client, owner, delivery["id"]))["attempts"]
        assert [(a["number"], a["outcome"], a["status_code"]) for a in attempts] == [
            (1, "retry", 500),
            (2, "retry", 503),
            (3, "succeeded", 200),
        ]
        assert attempts[0]["response_excerpt"] == "answer 500" and attempts[0]["duration_ms"] >= 0
        # The waits grew: a second or so, then two.
        hook = (await client.get(f"/api/v1/webhooks/{hook_id}", headers=owner.headers)).json()
        assert hook["consecutive_failures"] == 0 and hook["last_success_at"] is not None


async def test_during_a_rotation_both_secrets_sign(client, api) -> None:
    owner, _ = await team(api, "disprot")
    hook_id, old, _ = await create_webhook(client, owner, events=["member.added"])
    r = await client.post(
        f"/api/v1/webhooks/{hook_id}/rotate-secret", json={"grace_seconds": 600}, headers=owner.headers
    )
    new = r.json()["secret"]
    with receiving(Receiver(secret=old)) as with_old, receiving(Receiver(secret=new)) as with_new:
        for receiver in (with_old, with_new):
            await point_at(hook_id, receiver.url)
            await client.post(f"/api/v1/webhooks/{hook_id}/test", headers=owner.headers)
            await run(hook_id, settings_with(**FAST), lambda receiver=receiver: _got(receiver))
            assert receiver.received[0].verified is True
            assert receiver.received[0].headers["board3-signature"].count("v1=") == 2


async def _got(receiver: Receiver) -> bool:
    return bool(receiver.received)


async def test_4xx_fails_at_once_and_failing_deliveries_disable_the_webhook_and_tell_admins(
    client, api
) -> None:
    owner, members = await team(api, "dispoff", admin="admin", dev="developer")
    hook_id, _, _ = await create_webhook(client, owner, events=["member.*"])
    settings = settings_with(**FAST, webhook_disable_after=2)
    token = runtime.bind(runtime.Runtime(gate=MemoryGate(), subscribers=SUBSCRIBERS))  # as a worker has
    try:
        with receiving(Receiver(then=404)) as receiver:
            await point_at(hook_id, receiver.url)
            await api.add_member(owner, await api.register("dispoff-0"), "viewer")
            await run(hook_id, settings, await settled(hook_id, 1))
            hook = (await client.get(f"/api/v1/webhooks/{hook_id}", headers=owner.headers)).json()
            assert hook["consecutive_failures"] == 1 and hook["enabled"] is True
            for i in (1, 2):
                await api.add_member(owner, await api.register(f"dispoff-{i}"), "viewer")
            await run(hook_id, settings, await settled(hook_id, 3), limit=1)  # the second one fails first
            assert len(receiver.received) == 2  # one attempt each (a 4xx is final); the third was canceled
            await api.add_member(owner, await api.register("dispoff-3"), "viewer")  # no delivery any more
    finally:
        runtime.unbind(token)
    hook = (await client.get(f"/api/v1/webhooks/{hook_id}", headers=owner.headers)).json()
    assert hook["enabled"] is False and hook["disabled_reason"].startswith("2 deliveries in a row failed")
    statuses = [
        d["status"]
        for d in (await client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=owner.headers)).json()[
            "items"
        ]
    ]
    assert statuses == ["canceled", "failed", "failed"]
    for who, expected in ((owner, 1), (members["admin"], 1), (members["dev"], 0)):
        found = (
            await client.get(
                "/api/v1/notifications", params={"type": "webhook.disabled"}, headers=who.headers
            )
        ).json()["items"]
        assert len(found) == expected, who.email
    assert (
        found == []
        and "Webhook hook was disabled"
        in (await client.get("/api/v1/notifications", headers=owner.headers)).json()["items"][0]["title"]
    )
    # Enabling it again resets the count; a test goes out even while it is disabled.
    r = await client.patch(f"/api/v1/webhooks/{hook_id}", json={"enabled": True}, headers=owner.headers)
    assert r.json()["consecutive_failures"] == 0 and r.json()["disabled_reason"] is None


async def test_retries_stop_after_the_window(client, api) -> None:
    owner, _ = await team(api, "dispwin")
    hook_id, _, _ = await create_webhook(client, owner, events=["member.added"])
    with receiving(Receiver(then=500)) as receiver:
        await point_at(hook_id, receiver.url)
        await api.add_member(owner, await api.register("dispwin-j"), "viewer")
        await run(hook_id, settings_with(**FAST, webhook_retry_window=3), await settled(hook_id))
        [delivery] = (
            await client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=owner.headers)
        ).json()["items"]
        assert delivery["status"] == "failed" and "gave up after" in delivery["last_error"]
        assert 2 <= len(receiver.received) == delivery["attempt_count"] <= 4


async def test_a_lost_attempt_is_recorded_and_the_delivery_sent_again(client, api) -> None:
    owner, _ = await team(api, "displost")
    hook_id, secret, _ = await create_webhook(client, owner, events=["member.added"])
    with receiving(Receiver(secret=secret)) as receiver:
        await point_at(hook_id, receiver.url)
        await api.add_member(owner, await api.register("displost-j"), "viewer")
        [claimed] = await dispatcher.claim("doomed-worker", 10, 30, webhooks=[uuid.UUID(hook_id)])
        # The worker holding it dies before sending; another worker finds it once its lease is over.
        assert await dispatcher.recover() == 0
        await WebhookDelivery.update({WebhookDelivery.lease_expires_at: utcnow()}).where(
            WebhookDelivery.id == claimed
        )
        await asyncio.sleep(0.01)
        assert await dispatcher.recover() >= 1
        assert (
            await dispatcher.deliver(claimed, "doomed-worker", settings_with(**FAST)) is None
        )  # not its own any more
        await run(hook_id, settings_with(**FAST), await settled(hook_id))
        got = await detail(client, owner, str(claimed))
        assert [(a["number"], a["outcome"]) for a in got["attempts"]] == [(1, "lost"), (2, "succeeded")]
        assert len(receiver.received) == 1 and receiver.received[0].headers["board3-delivery"] == str(claimed)


async def test_the_guard_runs_again_at_delivery_time(client, api) -> None:
    """A URL accepted when saved that now leads to loopback (its DNS changed) is refused when sent."""
    owner, _ = await team(api, "dispguard")
    hook_id, _, _ = await create_webhook(client, owner, events=["member.added"])
    with canary() as (port, peers):
        for url in (
            f"http://127.0.0.1:{port}/",
            f"http://[::ffff:127.0.0.1]:{port}/",
            f"http://localhost:{port}/",
        ):
            await point_at(hook_id, url)
            r = await client.post(f"/api/v1/webhooks/{hook_id}/test", headers=owner.headers)
            await run(hook_id, settings_with(webhook_allow_private=False), await settled(hook_id))
            got = await detail(client, owner, r.json()["id"])
            assert got["status"] == "failed" and got["last_error"].startswith("refused:"), got
            assert got["attempts"][0]["outcome"] == "failed" and got["attempts"][0]["status_code"] is None
        time.sleep(0.3)
        assert peers == []


async def test_redirects_are_not_followed_at_delivery_time(client, api) -> None:
    owner, _ = await team(api, "dispredir")
    hook_id, _, _ = await create_webhook(client, owner, events=["member.added"])
    with canary() as (port, peers), receiving(Receiver(redirect_to=f"http://127.0.0.1:{port}/")) as receiver:
        await point_at(hook_id, receiver.url)
        await api.add_member(owner, await api.register("dispredir-j"), "viewer")
        await run(hook_id, settings_with(**FAST), await settled(hook_id))
        [delivery] = (
            await client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=owner.headers)
        ).json()["items"]
        assert delivery["status"] == "failed" and delivery["last_status_code"] == 302
        assert "redirects are not followed" in delivery["last_error"]
        time.sleep(0.3)
        assert peers == [] and len(receiver.received) == 1


async def test_a_broken_subscriber_undoes_only_its_own_writes(client, api) -> None:
    """Reactions run under a savepoint: a failing one leaves the change and the others standing."""
    from app.db import transaction
    from app.events.bus import emit
    from app.lib.principal import Principal

    owner, _ = await team(api, "dispsave")
    calls = []

    async def broken(event: DomainEvent) -> None:
        await Notification.insert(
            Notification(user=uuid.UUID(owner.user_id), type="x", title="x", created_at=utcnow())
        )
        calls.append(event.type)
        await Notification.raw("SELECT no_such_function()")

    async def fine(event: DomainEvent) -> None:
        calls.append("fine")
        await Notification.insert(
            Notification(user=uuid.UUID(owner.user_id), type="kept", title="kept", created_at=utcnow())
        )

    token = runtime.bind(runtime.Runtime(gate=MemoryGate(), subscribers=(broken, fine)))
    try:
        actor = Principal(
            kind="user", id=uuid.UUID(owner.user_id), label=owner.email, user_id=uuid.UUID(owner.user_id)
        )
        async with transaction():
            await emit(
                actor,
                "member.added",
                organization_id=uuid.UUID(owner.org_id),
                object_type="user",
                object_id="x",
            )
    finally:
        runtime.unbind(token)
    assert calls == ["member.added", "fine"]
    kept = await Notification.select(Notification.type).where(Notification.user == uuid.UUID(owner.user_id))
    assert [r["type"] for r in kept] == ["kept"]
