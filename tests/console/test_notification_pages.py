"""Invitations and webhooks pages through the API's services: invite, resend, revoke; a webhook's
secret shown once; a test delivery sent to a real receiver on 127.0.0.1, listed and redelivered;
bad input back as the form; CSRF; non-admins refused; other organizations' objects 404."""

from __future__ import annotations

import asyncio
import email
import logging
import re
import time
import uuid
from pathlib import Path

from app.notifications import dispatcher
from app.notifications.tables import Invitation, Webhook, WebhookDelivery
from tests.notifications.helpers import create_webhook, point_at, settings_with
from tests.notifications.support import Receiver, receiving
from tests.support.api import PASSWORD, unique_email

SECRET = re.compile(r'id="new-secret">(whsec_[^<]+)<')
TOKEN = re.compile(r"b3i_[A-Za-z0-9_-]{40,}")
ALLOW_LOOPBACK = settings_with(webhook_allow_private=True, webhook_timeout=3)


async def signed_in(api, browser, tag: str):
    account = await api.register(tag)
    b = browser()
    await b.sign_in(account.email, PASSWORD)
    return account, b


def mails_to(data_dir: str, address: str) -> list[str]:
    """Bodies of the outbox's messages to ``address``, oldest first."""
    found = []
    for path in sorted((Path(data_dir) / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == address:
            found.append(message.get_payload(decode=True).decode())
    return found


async def deliver_due(hook_id: str, count: int, timeout: float = 30) -> None:
    """Send the webhook's due deliveries as a worker would (the in-process app runs no workers;
    loopback allowed, as BOARD3_WEBHOOK_ALLOW_PRIVATE does) until ``count`` have finished."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await WebhookDelivery.select(WebhookDelivery.status).where(
            WebhookDelivery.webhook == uuid.UUID(hook_id)
        )
        if len(rows) >= count and all(r["status"] in ("succeeded", "failed", "canceled") for r in rows):
            return
        assert time.monotonic() < deadline, f"deliveries did not finish: {rows}"
        for delivery_id in await dispatcher.claim("console-test", 10, 30, webhooks=[uuid.UUID(hook_id)]):
            await dispatcher.deliver(delivery_id, "console-test", ALLOW_LOOPBACK)
        await asyncio.sleep(0.1)


async def test_invite_resend_and_revoke(api, browser, data_dir) -> None:
    owner, b = await signed_in(api, browser, "con-inv")
    base = f"/console/orgs/{owner.org_slug}"
    empty = await b.get(f"{base}/invitations")
    assert empty.status_code == 200 and "Nobody has been invited yet" in empty.text
    assert f'href="{base}/invitations"' in empty.text and f'href="{base}/webhooks"' in empty.text
    assert "BOARD3_MAIL_OUTBOX" in empty.text  # no SMTP in tests: the page says where mail goes

    guest = unique_email("con-guest")
    r = await b.post(f"{base}/invitations", {"email": guest.upper(), "role": "viewer"})
    assert r.status_code == 303
    listing = await b.get(r.headers["location"])
    assert f"{guest} is invited. No mail server is configured: the email was written" in listing.text
    assert guest in listing.text and 'data-status="pending"' in listing.text
    [first] = mails_to(data_dir, guest)
    first_token = TOKEN.search(first)
    assert first_token and first_token.group(0) not in listing.text  # the token is only in the email

    invitation_id = re.search(r'data-invitation="([0-9a-f-]{36})"', listing.text)
    assert invitation_id is not None
    r = await b.post(f"{base}/invitations/{invitation_id.group(1)}/resend")
    assert r.status_code == 303
    again = await b.get(r.headers["location"])
    assert "sent again with a new link" in again.text and "(sent 2 times)" in again.text
    mails = mails_to(data_dir, guest)
    assert len(mails) == 2 and first_token.group(0) not in mails[1]

    # Bad input comes back as the form, naming the field and keeping what was typed.
    bad = await b.post(f"{base}/invitations", {"email": "not-an-email", "role": "developer"})
    assert bad.status_code == 422 and "<code>email</code>" in bad.text
    assert 'value="not-an-email"' in bad.text and 'action="' + base + '/invitations"' in bad.text
    twice = await b.post(f"{base}/invitations", {"email": guest, "role": "viewer"})
    assert twice.status_code == 409 and "already invited" in twice.text
    unknown = await b.post(f"{base}/invitations", {"email": unique_email("x"), "role": "emperor"})
    assert unknown.status_code == 422 and "<code>role</code>" in unknown.text

    r = await b.post(f"{base}/invitations/{invitation_id.group(1)}/revoke")
    assert r.status_code == 303
    revoked = await b.get(r.headers["location"])
    assert "is revoked" in revoked.text and 'data-status="revoked"' in revoked.text
    assert "No pending invitations" in (await b.get(f"{base}/invitations?status=pending")).text
    row = await Invitation.select(Invitation.revoked_at).where(
        Invitation.id == uuid.UUID(invitation_id.group(1))
    )
    assert row[0]["revoked_at"] is not None
    via_api = await api.client.get(
        f"/api/v1/orgs/{owner.org_slug}/invitations?status=revoked", headers=owner.headers
    )
    assert [i["email"] for i in via_api.json()["items"]] == [guest]


async def test_members_without_org_admin_are_refused(api, browser) -> None:
    owner = await api.register("con-noadm")
    developer = await api.register("con-noadm-dev")
    await api.add_member(owner, developer, "developer")
    hook_id, _, _ = await create_webhook(api.client, owner)
    b = browser()
    await b.sign_in(developer.email, PASSWORD)
    base = f"/console/orgs/{owner.org_slug}"
    designs = await b.get(f"{base}/designs")
    assert f"{base}/invitations" not in designs.text and f"{base}/webhooks" not in designs.text
    for path in (f"{base}/invitations", f"{base}/webhooks", f"{base}/webhooks/{hook_id}"):
        r = await b.get(path)
        assert r.status_code == 403 and "org:admin" in r.text, path
    refused = [
        await b.post(f"{base}/invitations", {"email": unique_email("x"), "role": "viewer"}),
        await b.post(f"{base}/webhooks", {"name": "x", "url": "https://hooks.example.com/x", "events": "*"}),
        await b.post(f"{base}/webhooks/{hook_id}/delete"),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert await Webhook.count().where(Webhook.id == uuid.UUID(hook_id)) == 1


async def test_webhook_secret_is_shown_once_and_deliveries_are_listed_and_redelivered(
    api, browser, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    owner, b = await signed_in(api, browser, "con-hook")
    base = f"/console/orgs/{owner.org_slug}"
    page = await b.get(f"{base}/webhooks")
    assert "No webhooks yet" in page.text and 'value="execution.errored"' in page.text
    created = await b.post(
        f"{base}/webhooks",
        {
            "name": "ops",
            "url": "https://hooks.example.com/board3",
            "events": ["execution.errored", "drift.*"],
        },
    )
    assert created.status_code == 200, created.text[:500]
    found = SECRET.search(created.text)
    assert found is not None
    secret = found.group(1)
    assert "set-cookie" not in created.headers or secret not in created.headers["set-cookie"]
    hook_id = re.search(r'/webhooks/([0-9a-f-]{36})/test"', created.text).group(1)  # type: ignore[union-attr]
    hook_url = f"{base}/webhooks/{hook_id}"
    reloaded = await b.get(hook_url)
    assert reloaded.status_code == 200 and secret not in reloaded.text and "new-secret" not in reloaded.text
    assert secret[:10] in reloaded.text  # its prefix, to tell secrets apart
    assert "drift.*" in reloaded.text and "No deliveries yet" in reloaded.text
    assert secret not in (await b.get(f"{base}/webhooks")).text

    with receiving(Receiver(secret=secret)) as receiver:
        await point_at(hook_id, receiver.url)
        r = await b.post(f"{hook_url}/test")
        assert r.status_code == 303 and "/deliveries/" in r.headers["location"]
        queued = await b.get(r.headers["location"])
        assert "Test delivery queued" in queued.text and 'data-status="pending"' in queued.text
        assert "Not attempted yet" in queued.text
        listed = await b.get(hook_url)
        assert "webhook.test" in listed.text and 'data-status="pending"' in listed.text
        await deliver_due(hook_id, 1)
        assert receiver.received[0].verified  # signed with the secret the page showed
        delivered = await b.get(r.headers["location"])
        assert 'data-status="succeeded"' in delivered.text and 'data-attempt="1"' in delivered.text
        assert "answer 200" in delivered.text and "This is a test delivery from Board3." in delivered.text

        again = await b.post(r.headers["location"] + "/redeliver")
        assert again.status_code == 303 and again.headers["location"] != r.headers["location"]
        await deliver_due(hook_id, 2)
        redelivered = await b.get(again.headers["location"])
        assert "Redelivery of" in redelivered.text and 'data-status="succeeded"' in redelivered.text
        assert len(receiver.received) == 2
        assert receiver.received[0].body == receiver.received[1].body
    listing = await b.get(hook_url)
    assert listing.text.count("data-delivery=") == 2 and "redelivery" in listing.text
    assert listing.text.index("redelivery") < listing.text.index("by hand")  # newest first
    only_failed = await b.get(f"{hook_url}?status=failed")
    assert "No failed deliveries" in only_failed.text

    rotated = await b.post(f"{hook_url}/rotate-secret", {"grace_seconds": "0"})
    assert rotated.status_code == 200
    new_secret = SECRET.search(rotated.text)
    assert new_secret is not None and new_secret.group(1) != secret
    assert new_secret.group(1) not in (await b.get(hook_url)).text

    off = await b.post(f"{hook_url}/disable")
    assert off.status_code == 303
    assert 'data-status="disabled"' in (await b.get(hook_url)).text
    await b.post(f"{hook_url}/enable")
    assert 'data-status="enabled"' in (await b.get(hook_url)).text
    assert (await b.post(f"{hook_url}/explode")).status_code == 422
    gone = await b.post(f"{hook_url}/delete")
    assert gone.status_code == 303 and gone.headers["location"].endswith("/webhooks")
    assert "No webhooks yet" in (await b.get(gone.headers["location"])).text
    assert (await b.get(hook_url)).status_code == 404
    for text in (secret, new_secret.group(1)):
        assert text not in caplog.text


async def test_bad_webhook_input_comes_back_as_the_form(api, browser) -> None:
    owner, b = await signed_in(api, browser, "con-hookbad")
    base = f"/console/orgs/{owner.org_slug}/webhooks"
    await b.get(base)
    cases = [
        ({"name": "a", "url": "http://127.0.0.1:9/hook", "events": "*"}, "url", "loopback"),
        ({"name": "a", "url": "https://169.254.169.254/x", "events": "*"}, "url", "metadata"),
        ({"name": "a", "url": "ftp://files.example.com/x", "events": "*"}, "url", ""),
        ({"name": "a", "url": "https://hooks.example.com/x"}, "events", "at least one"),
        ({"name": "a", "url": "https://hooks.example.com/x", "events": "nope.*"}, "events[0]", "unknown"),
        ({"name": "", "url": "https://hooks.example.com/x", "events": "*"}, "name", ""),
    ]
    for form, field, words in cases:
        r = await b.post(base, form)
        assert r.status_code == 422, (form, r.status_code)
        assert f"<code>{field}</code>" in r.text and words in r.text, (form, r.text[:2000])
        assert 'action="' + base + '"' in r.text  # the form again
        if form["url"]:
            assert f'value="{form["url"]}"' in r.text
    assert await Webhook.count().where(Webhook.organization == uuid.UUID(owner.org_id)) == 0


async def test_forms_without_the_csrf_token_are_refused(api, browser) -> None:
    owner, b = await signed_in(api, browser, "con-hookcsrf")
    hook_id, _, _ = await create_webhook(api.client, owner)
    base = f"/console/orgs/{owner.org_slug}"
    await b.get(f"{base}/webhooks")
    attempts = {
        f"{base}/invitations": {"email": unique_email("x"), "role": "viewer"},
        f"{base}/webhooks": {"name": "x", "url": "https://hooks.example.com/x", "events": "*"},
        f"{base}/webhooks/{hook_id}/delete": {},
        f"{base}/webhooks/{hook_id}/rotate-secret": {},
    }
    for path, form in attempts.items():
        r = await b.post(path, form, csrf=False)
        assert r.status_code == 403 and "whsec_" not in r.text, path
        r = await b.post(path, form | {"_csrf": "0" * 64}, csrf=False)
        assert r.status_code == 403, path
    assert await Webhook.count().where(Webhook.organization == uuid.UUID(owner.org_id)) == 1
    assert await Invitation.count().where(Invitation.organization == uuid.UUID(owner.org_id)) == 0


async def test_another_organizations_invitations_webhooks_and_deliveries_are_not_found(api, browser) -> None:
    owner = await api.register("con-hookten-a")
    hook_id, _, _ = await create_webhook(api.client, owner, events=["drift.*"])
    test = await api.client.post(f"/api/v1/webhooks/{hook_id}/test", headers=owner.headers)
    delivery_id = test.json()["id"]
    invited = await api.client.post(
        f"/api/v1/orgs/{owner.org_slug}/invitations",
        json={"email": unique_email("x"), "role": "viewer"},
        headers=owner.headers,
    )
    invitation_id = invited.json()["id"]
    # An admin of their own organization, and (as a second case) also a member of the owner's.
    stranger = await api.register("con-hookten-b")
    b = browser()
    await b.sign_in(stranger.email, PASSWORD)
    theirs, mine = f"/console/orgs/{owner.org_slug}", f"/console/orgs/{stranger.org_slug}"
    pages = [
        f"{theirs}/invitations",
        f"{theirs}/webhooks",
        f"{theirs}/webhooks/{hook_id}",
        f"{theirs}/deliveries/{delivery_id}",
        f"{mine}/webhooks/{hook_id}",
        f"{mine}/deliveries/{delivery_id}",
    ]
    writes = [
        f"{mine}/invitations/{invitation_id}/resend",
        f"{mine}/invitations/{invitation_id}/revoke",
        f"{theirs}/invitations/{invitation_id}/revoke",
        f"{mine}/webhooks/{hook_id}/delete",
        f"{mine}/webhooks/{hook_id}/test",
        f"{mine}/webhooks/{hook_id}/rotate-secret",
        f"{mine}/deliveries/{delivery_id}/redeliver",
    ]

    async def all_not_found() -> None:
        await b.get(f"{mine}/webhooks")
        for path in pages:
            r = await b.get(path)
            assert r.status_code == 404 and "Not found" in r.text, (path, r.status_code)
        for path in writes:
            r = await b.post(path)
            assert r.status_code == 404, (path, r.status_code)

    await all_not_found()
    # An admin of both organizations still reaches each object only under its own organization.
    await api.add_member(owner, stranger, "admin")
    pages = [p for p in pages if p.startswith(mine)]
    writes = [w for w in writes if w.startswith(mine)]
    await all_not_found()
    assert (await b.get(f"{theirs}/webhooks/{hook_id}")).status_code == 200
    assert (await b.get(f"{theirs}/deliveries/{delivery_id}")).status_code == 200
    assert invitation_id in (await b.get(f"{theirs}/invitations")).text
    assert await Webhook.count().where(Webhook.id == uuid.UUID(hook_id)) == 1
    assert await WebhookDelivery.count().where(WebhookDelivery.webhook == uuid.UUID(hook_id)) == 1
    row = await Invitation.select(Invitation.revoked_at, Invitation.send_count).where(
        Invitation.id == uuid.UUID(invitation_id)
    )
    assert row[0] == {"revoked_at": None, "send_count": 1}


async def test_deliveries_are_paginated_newest_first(api, browser) -> None:
    owner, b = await signed_in(api, browser, "con-hookpage")
    hook_id, _, _ = await create_webhook(api.client, owner, events=["drift.*"])
    made = []
    for _ in range(26):
        r = await api.client.post(f"/api/v1/webhooks/{hook_id}/test", headers=owner.headers)
        made.append(r.json()["id"])
    url = f"/console/orgs/{owner.org_slug}/webhooks/{hook_id}"
    first = await b.get(url)
    shown = re.findall(r'data-delivery="([0-9a-f-]{36})"', first.text)
    assert shown == made[::-1][:25]
    older = re.search(r'class="pager"><a href="\?cursor=([^"&]+)', first.text)
    assert older is not None
    rest = await b.get(f"{url}?cursor={older.group(1)}")
    assert re.findall(r'data-delivery="([0-9a-f-]{36})"', rest.text) == [made[0]]
    assert 'class="pager"' not in rest.text
