"""Invitations: create, list, resend, revoke, accept (signed in, or by registering), single use,
expiry, tenancy, the email (outbox and SMTP), and the token never stored in clear."""

from __future__ import annotations

import asyncio
import email
import re
import uuid
from pathlib import Path

from app.notifications.mail import Mail, OutboxMailer, SmtpMailer
from app.notifications.tables import Invitation
from tests.notifications.helpers import database_dump, team
from tests.support.api import PASSWORD, assert_problem, unique_email

TOKEN = re.compile(r"b3i_[A-Za-z0-9_-]{40,}")


def sent_to(data_dir: str, address: str) -> list[email.message.Message]:
    """Messages the outbox holds for ``address``, oldest first."""
    found = []
    for path in sorted((Path(data_dir) / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == address:
            assert path.stat().st_mode & 0o077 == 0, "outbox files are owner-only"
            found.append(message)
    return found


def token_in(message: email.message.Message) -> str:
    match = TOKEN.search(message.get_payload(decode=True).decode())
    assert match, message
    return match.group(0)


async def invite(client, owner, address: str, role: str = "developer", by=None) -> dict:
    r = await client.post(
        f"/api/v1/orgs/{owner.org_slug}/invitations",
        json={"email": address, "role": role},
        headers=(by or owner).headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_invite_then_accept_signed_in(client, api, data_dir) -> None:
    owner, _ = await team(api, "inv")
    guest = await api.register("inv-guest")
    created = await invite(client, owner, guest.email.upper())
    assert (created["email"], created["role"], created["status"], created["send_count"]) == (
        guest.email,
        "developer",
        "pending",
        1,
    )
    [message] = sent_to(data_dir, guest.email)
    assert message["Subject"].startswith("You are invited to join")
    token = token_in(message)
    assert f"/api/v1/invitations/{token}/accept" in message.get_payload(decode=True).decode()
    listed = (await client.get(f"/api/v1/orgs/{owner.org_slug}/invitations", headers=owner.headers)).json()[
        "items"
    ]
    assert [i["id"] for i in listed] == [created["id"]]
    # Someone else signed in cannot use it; the invited user can, once.
    other = await api.register("inv-other")
    assert_problem(await client.post(f"/api/v1/invitations/{token}/accept", headers=other.headers), 403)
    r = await client.post(f"/api/v1/invitations/{token}/accept", headers=guest.headers)
    assert r.status_code == 200, r.text
    joined = r.json()
    assert joined["organization"]["slug"] == owner.org_slug and joined["role"] == "developer"
    assert joined["access_token"] is None and joined["user"]["email"] == guest.email
    members = (await client.get(f"/api/v1/orgs/{owner.org_slug}/members", headers=owner.headers)).json()
    assert {m["email"]: m["role"] for m in members}[guest.email] == "developer"
    body = assert_problem(
        await client.post(f"/api/v1/invitations/{token}/accept", headers=guest.headers), 409
    )
    assert body["type"].endswith("invitation-accepted")
    assert (await client.get(f"/api/v1/orgs/{owner.org_slug}/invitations", headers=owner.headers)).json()[
        "items"
    ] == []
    every = (
        await client.get(
            f"/api/v1/orgs/{owner.org_slug}/invitations", params={"status": "all"}, headers=owner.headers
        )
    ).json()
    assert [i["status"] for i in every["items"]] == ["accepted"]
    assert_problem(await client.delete(f"/api/v1/invitations/{created['id']}", headers=owner.headers), 409)
    audit = (
        await client.get(
            f"/api/v1/orgs/{owner.org_slug}/audit-logs",
            params={"action": "invitation.*"},
            headers=owner.headers,
        )
    ).json()["items"]
    assert [e["action"] for e in audit] == ["invitation.accept", "invitation.create"]
    assert token not in database_dump() and token not in str(audit)


async def test_accept_by_registering_with_the_invited_email(client, api, data_dir) -> None:
    owner, _ = await team(api, "invreg")
    address = unique_email("invreg-new")
    await invite(client, owner, address, "viewer")
    token = token_in(sent_to(data_dir, address)[0])
    r = await client.post(f"/api/v1/invitations/{token}/accept", json={"name": "Grace"})
    assert_problem(r, 422, "password")
    r = await client.post(f"/api/v1/invitations/{token}/accept")
    body = assert_problem(r, 422)
    assert {e["field"] for e in body["errors"]} == {"name", "password"}
    r = await client.post(f"/api/v1/invitations/{token}/accept", json={"name": "Grace", "password": PASSWORD})
    assert r.status_code == 200, r.text
    joined = r.json()
    assert joined["user"]["email"] == address and joined["access_token"] and joined["refresh_token"]
    me = (
        await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {joined['access_token']}"})
    ).json()
    assert owner.org_slug in [o["slug"] for o in me["organizations"]]
    r = await client.post("/api/v1/auth/login", json={"email": address, "password": PASSWORD})
    assert r.status_code == 200
    signed_in = {"Authorization": f"Bearer {joined['access_token']}"}
    assert_problem(await client.post(f"/api/v1/invitations/{token}/accept", headers=signed_in), 409)
    # Once the account exists, a further invitation is accepted signed in (no password then).
    elsewhere, _ = await team(api, "invreg2")
    await invite(client, elsewhere, address)
    token2 = token_in(sent_to(data_dir, address)[-1])
    r = await client.post(f"/api/v1/invitations/{token2}/accept", json={"name": "x", "password": PASSWORD})
    assert_problem(r, 409, "email")  # registering again: the email is taken; sign in instead
    r = await client.post(
        f"/api/v1/invitations/{token2}/accept", json={"name": "x", "password": PASSWORD}, headers=signed_in
    )
    assert_problem(r, 422, "password")
    assert (await client.post(f"/api/v1/invitations/{token2}/accept", headers=signed_in)).status_code == 200


async def test_rules_expiry_resend_and_revoke(client, api, data_dir) -> None:
    owner, m = await team(api, "invrules", admin="admin", dev="developer", member="viewer")
    address = unique_email("invrules")
    url = f"/api/v1/orgs/{owner.org_slug}/invitations"
    assert_problem(
        await client.post(url, json={"email": m["member"].email}, headers=owner.headers), 409, "email"
    )
    assert_problem(
        await client.post(url, json={"email": "not-an-email"}, headers=owner.headers), 422, "email"
    )
    assert_problem(
        await client.post(url, json={"email": address, "role": "wizard"}, headers=owner.headers), 422, "role"
    )
    assert_problem(
        await client.post(url, json={"email": address, "role": "owner"}, headers=m["admin"].headers), 403
    )
    assert_problem(await client.post(url, json={"email": address}, headers=m["dev"].headers), 403)
    created = await invite(client, owner, address, "admin", by=m["admin"])
    assert_problem(await client.post(url, json={"email": address}, headers=owner.headers), 409, "email")
    first = token_in(sent_to(data_dir, address)[-1])
    # Resend: a new link, the old one dead.
    r = await client.post(f"/api/v1/invitations/{created['id']}/resend", headers=owner.headers)
    assert r.status_code == 200 and r.json()["send_count"] == 2
    second = token_in(sent_to(data_dir, address)[-1])
    assert second != first
    assert_problem(
        await client.post(f"/api/v1/invitations/{first}/accept", json={"name": "n", "password": PASSWORD}),
        404,
    )
    # Expired: refused, listed as expired, and no obstacle to a new invitation.
    await Invitation.update({Invitation.expires_at: Invitation.created_at}).where(
        Invitation.id == uuid.UUID(created["id"])
    )
    body = assert_problem(
        await client.post(f"/api/v1/invitations/{second}/accept", json={"name": "n", "password": PASSWORD}),
        409,
    )
    assert body["type"].endswith("invitation-expired")
    assert (await client.get(url, params={"status": "expired"}, headers=owner.headers)).json()["items"][0][
        "id"
    ] == created["id"]
    again = await invite(client, owner, address)
    # Revoke: the token stops working; revoking twice is fine; other tenants see nothing.
    stranger = await api.register("invrules-stranger")
    assert_problem(await client.delete(f"/api/v1/invitations/{again['id']}", headers=stranger.headers), 404)
    assert_problem(
        await client.post(f"/api/v1/invitations/{again['id']}/resend", headers=stranger.headers), 404
    )
    assert_problem(await client.get(url, headers=stranger.headers), 404)
    assert (
        await client.delete(f"/api/v1/invitations/{again['id']}", headers=owner.headers)
    ).status_code == 204
    assert (
        await client.delete(f"/api/v1/invitations/{again['id']}", headers=owner.headers)
    ).status_code == 204
    third = token_in(sent_to(data_dir, address)[-1])
    body = assert_problem(
        await client.post(f"/api/v1/invitations/{third}/accept", json={"name": "n", "password": PASSWORD}),
        409,
    )
    assert body["type"].endswith("invitation-revoked")
    assert_problem(await client.post(f"/api/v1/invitations/{again['id']}/resend", headers=owner.headers), 409)
    assert_problem(
        await client.post("/api/v1/invitations/b3i_nope/accept", json={"name": "n", "password": PASSWORD}),
        404,
    )
    key = await api.api_key(owner)
    r = await client.post(f"/api/v1/invitations/{third}/accept", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code in (403, 409)
    assert_problem(
        await client.post(f"/api/v1/invitations/{third}/accept", headers={"Authorization": "Basic eDp5"}), 401
    )


async def test_the_outbox_and_smtp_mailers(tmp_path) -> None:
    outbox = OutboxMailer(tmp_path / "out", "Board3 <b3@example.com>")
    await outbox.send(Mail(to="a@example.com", subject="Hi", text="secret link b3i_x"))
    [path] = (tmp_path / "out").glob("*.eml")
    assert path.stat().st_mode & 0o777 == 0o600 and (tmp_path / "out").stat().st_mode & 0o777 == 0o700
    assert b"secret link" in path.read_bytes()

    received: list[bytes] = []

    async def smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        say("220 fake ESMTP")
        data = False
        while line := await reader.readline():
            if data:
                if line == b".\r\n":
                    data = False
                    say("250 queued")
                else:
                    received.append(line)
                continue
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                say("250-fake\r\n250 AUTH PLAIN")
            elif verb == b"AUTH":
                received.append(line)
                say("235 ok")
            elif verb == b"DATA":
                data = True
                say("354 go on")
            elif verb == b"QUIT":
                say("221 bye")
                break
            else:
                say("250 ok")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(smtp, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        mailer = SmtpMailer(f"smtp://bob:p%40ss@127.0.0.1:{port}", "Board3 <b3@example.com>")
        await mailer.send(Mail(to="a@example.com", subject="Invitation", text="the link"))
    text = b"".join(received).decode()
    assert "Subject: Invitation" in text and "the link" in text and "AUTH PLAIN" in text
