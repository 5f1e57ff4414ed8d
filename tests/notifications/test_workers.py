"""Webhooks and notifications with real processes: a server and `board3 worker` processes on
PostgreSQL and Redis (or one embedded server), a receiver on 127.0.0.1 (allowed by
BOARD3_WEBHOOK_ALLOW_PRIVATE), retries, disabling, a worker killed mid-delivery, and the
notifications executions make."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from tests.notifications.support import Receiver, receiving
from tests.pipelines.conftest import stack_env
from tests.pipelines.support import Client, data_canvas, register, sandbox_canvas, stack
from tests.support.server import BOARD3, ROOT

pytestmark = pytest.mark.slow
production = pytest.mark.skipif(
    "REDIS_URL" not in os.environ, reason="production mode: workers are processes"
)

WEBHOOK_ENV = {
    "BOARD3_WEBHOOK_ALLOW_PRIVATE": "true",
    "BOARD3_WEBHOOK_RETRY_BASE": "1",
    "BOARD3_WEBHOOK_TIMEOUT": "3",
    "BOARD3_WEBHOOK_DISABLE_AFTER": "2",
    "BOARD3_WEBHOOK_RETRY_WINDOW": "6",
}


def webhook(c: Client, url: str, events: list[str], **extra) -> tuple[str, str]:
    body = {"name": "receiver", "url": url, "events": events, **extra}
    created = c.ok("POST", f"/api/v1/orgs/{c.org}/webhooks", 201, json=body)
    return created["webhook"]["id"], created["secret"]


def invite(c: Client, n: int = 1) -> None:
    for _ in range(n):
        address = f"guest-{uuid.uuid4().hex[:10]}@example.com"
        c.ok("POST", f"/api/v1/orgs/{c.org}/invitations", 201, json={"email": address})


def deliveries(c: Client, hook_id: str) -> list[dict]:
    return list(c.ok("GET", f"/api/v1/webhooks/{hook_id}/deliveries")["items"])


def until(check, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@production
def test_deliveries_are_signed_retried_after_5xx_and_delivered_once_each() -> None:
    with (
        stack(stack_env(**WEBHOOK_ENV), workers=2) as running,
        receiving(Receiver(script=[500, 502])) as receiver,
    ):
        c = register(running.url, "wh")
        hook_id, receiver.secret = webhook(c, receiver.url, ["invitation.created"])
        invite(c, 3)
        receiver.wait_for(3, ok=True)
        until(lambda: all(d["status"] == "succeeded" for d in deliveries(c, hook_id)), what="all delivered")
        assert all(r.verified for r in receiver.received)
        ok = Counter(r.headers["board3-delivery"] for r in receiver.successes())
        assert sorted(ok.values()) == [1, 1, 1]  # each delivered once, the failed ones after retries
        assert set(ok) == {d["id"] for d in deliveries(c, hook_id)}
        assert [r.status for r in receiver.received].count(200) == 3 and len(receiver.received) == 5
        retried = [d for d in deliveries(c, hook_id) if d["attempt_count"] > 1]
        attempts = c.ok("GET", f"/api/v1/deliveries/{retried[0]['id']}")["attempts"]
        assert attempts[0]["outcome"] == "retry" and attempts[0]["status_code"] in (500, 502)
        assert attempts[-1]["outcome"] == "succeeded"


@production
def test_a_receiver_that_always_fails_gets_its_webhook_disabled_and_the_owner_told() -> None:
    with stack(stack_env(**WEBHOOK_ENV), workers=1) as running, receiving(Receiver(then=500)) as receiver:
        c = register(running.url, "whfail")
        hook_id, _ = webhook(c, receiver.url, ["invitation.*"])
        invite(c, 2)

        def disabled() -> dict | None:
            hook = c.ok("GET", f"/api/v1/webhooks/{hook_id}")
            return None if hook["enabled"] else hook

        hook = until(disabled, timeout=90, what="the webhook to be disabled")
        assert hook["disabled_reason"].startswith("2 deliveries in a row failed")
        assert {d["status"] for d in deliveries(c, hook_id)} == {"failed"}
        assert len(receiver.received) >= 4  # each delivery was tried several times within the window
        notes = c.ok("GET", "/api/v1/notifications", params={"type": "webhook.disabled"})["items"]
        assert len(notes) == 1 and notes[0]["link"] == f"/api/v1/webhooks/{hook_id}"
        invite(c)  # a disabled webhook gets no new deliveries
        time.sleep(1)
        assert len(deliveries(c, hook_id)) == 2


@production
def test_a_worker_killed_mid_delivery_delivers_after_restart() -> None:
    receiver = Receiver(hang=30, hang_on={0})
    with stack(stack_env(**WEBHOOK_ENV), workers=1) as running, receiving(receiver):
        c = register(running.url, "whcrash")
        hook_id, receiver.secret = webhook(c, receiver.url, ["invitation.created"])
        invite(c)
        receiver.wait_for(1)  # the worker is sending; the receiver holds the request
        running.workers[0].kill()
        [delivery] = deliveries(c, hook_id)
        assert delivery["status"] == "delivering"
        survivor = running.add_worker()
        receiver.wait_for(1, ok=True, timeout=60)
        until(lambda: deliveries(c, hook_id)[0]["status"] == "succeeded", what="the delivery")
        first, second = receiver.received
        assert first.headers["board3-delivery"] == second.headers["board3-delivery"] == delivery["id"]
        assert second.verified and len(receiver.successes()) == 1
        attempts = c.ok("GET", f"/api/v1/deliveries/{delivery['id']}")["attempts"]
        assert [a["outcome"] for a in attempts] == ["lost", "succeeded"]
        assert "recovered from lost workers" in survivor.output()


def test_an_embedded_server_delivers_by_itself(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")} | {
        "BOARD3_DATA_DIR": str(tmp_path / "embedded"),
        "BOARD3_LOG_LEVEL": "INFO",
        "BOARD3_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    subprocess.run([str(BOARD3), "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    with stack(env) as running, receiving(Receiver()) as receiver:
        assert running.workers == []
        c = register(running.url, "whembedded")
        _, receiver.secret = webhook(c, receiver.url, ["*"], format="slack")
        invite(c)
        [got] = receiver.wait_for(1, ok=True, timeout=30)
        assert got.verified and got.headers["board3-event"] == "invitation.created"
        assert "invited" in got.body.decode()
        outbox = list((tmp_path / "embedded" / "outbox").glob("*.eml"))
        assert len(outbox) == 1  # the invitation itself went to the outbox: no mail server needed


def _join(owner: Client, member: Client, role: str) -> None:
    email = member.ok("GET", "/api/v1/auth/me")["user"]["email"]
    owner.ok("POST", f"/api/v1/orgs/{owner.org}/members", 201, json={"email": email, "role": role})


@production
def test_executions_notify_approvers_and_the_starter_of_a_failure_and_feed_webhooks() -> None:
    with stack(stack_env(**WEBHOOK_ENV), workers=1) as running, receiving(Receiver()) as receiver:
        owner = register(running.url, "whexec")
        dev, viewer = register(running.url, "whexec-dev"), register(running.url, "whexec-viewer")
        _join(owner, dev, "developer")
        _join(owner, viewer, "viewer")
        for who in (dev, viewer):
            who.org = owner.org
        _, receiver.secret = webhook(owner, receiver.url, ["execution.needs_approval", "execution.errored"])
        design = owner.design(data_canvas(1))
        gated = owner.pipeline(design, "prod", require_approval=True)
        ex = dev.start(gated["id"], "apply")
        dev.wait(ex["id"], "planned")
        approvals = until(
            lambda: owner.ok("GET", "/api/v1/notifications", params={"type": "execution.needs_approval"})[
                "items"
            ]
        )
        assert approvals[0]["link"] == f"/api/v1/executions/{ex['id']}"
        assert dev.ok("GET", "/api/v1/notifications")["items"] == []  # not an approver
        broken = owner.design(sandbox_canvas(subnet_cidr="192.168.0.0/24"))
        failing = owner.pipeline(broken, "dev", auto_apply=True)
        run = dev.start(failing["id"], "apply")
        dev.wait(run["id"], "errored", timeout=180)
        [failed] = until(
            lambda: dev.ok("GET", "/api/v1/notifications", params={"type": "execution.errored"})["items"]
        )
        assert failed["data"]["execution_id"] == run["id"] and failed["title"].endswith("failed")
        assert viewer.ok("GET", "/api/v1/notifications")["items"] == []
        got = receiver.wait_for(2, ok=True)
        assert {r.headers["board3-event"] for r in got} == {"execution.needs_approval", "execution.errored"}
        assert all(r.verified for r in got)
