"""The webhooks API in process: validation, permissions, tenancy, the secret shown once and kept
encrypted, rotation, deliveries made from events, tests and redeliveries."""

from __future__ import annotations

import json
import logging
import uuid

from app.notifications.tables import WebhookDelivery
from tests.notifications.helpers import create_webhook, database_dump, team
from tests.support.api import assert_problem

BAD_URLS = [
    "ftp://example.com/x",
    "http://127.0.0.1:9/x",
    "http://2130706433/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://localhost/x",
    "http://169.254.169.254/latest/meta-data",
    "http://user:pw@example.com/x",
    "http://10.0.0.1/x",
]


async def test_create_read_update_delete(client, api) -> None:
    owner, _ = await team(api, "hooks")
    hook_id, secret, created = await create_webhook(
        client, owner, events=["drift.*", "execution.errored", "drift.*"], format="slack"
    )
    assert secret.startswith("whsec_") and created["secret_prefix"] == secret[:10]
    assert created["events"] == ["drift.*", "execution.errored"] and created["format"] == "slack"
    assert created["enabled"] is True and created["previous_secret_expires_at"] is None
    got = (await client.get(f"/api/v1/webhooks/{hook_id}", headers=owner.headers)).json()
    assert got == created
    listed = (await client.get(f"/api/v1/orgs/{owner.org_slug}/webhooks", headers=owner.headers)).json()
    assert [w["id"] for w in listed["items"]] == [hook_id]
    r = await client.patch(
        f"/api/v1/webhooks/{hook_id}",
        json={"name": "ops", "events": ["*"], "format": "json", "url": "https://other.example.com/h"},
        headers=owner.headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["events"], r.json()["url"]) == (
        "ops",
        ["*"],
        "https://other.example.com/h",
    )
    assert (await client.delete(f"/api/v1/webhooks/{hook_id}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"/api/v1/webhooks/{hook_id}", headers=owner.headers)).status_code == 404
    audit = (
        await client.get(
            f"/api/v1/orgs/{owner.org_slug}/audit-logs", params={"action": "webhook.*"}, headers=owner.headers
        )
    ).json()["items"]
    assert [e["action"] for e in audit] == ["webhook.delete", "webhook.update", "webhook.create"]
    assert (
        audit[2]["details"]["host"] == "https://hooks.example.com"
    )  # never the path: it may be a credential


async def test_bad_input_is_a_422_naming_the_field(client, api) -> None:
    owner, _ = await team(api, "hookbad")
    url = f"/api/v1/orgs/{owner.org_slug}/webhooks"
    for bad in BAD_URLS:
        r = await client.post(url, json={"name": "x", "url": bad, "events": ["*"]}, headers=owner.headers)
        assert_problem(r, 422, "url")
    r = await client.post(
        url,
        json={"name": " ", "url": "https://ok.example.com", "events": ["*", "nope", "x.*"]},
        headers=owner.headers,
    )
    body = assert_problem(r, 422)
    assert {e["field"] for e in body["errors"]} == {"name", "events[1]", "events[2]"}
    assert_problem(
        await client.post(
            url, json={"name": "x", "url": "https://ok.example.com", "events": []}, headers=owner.headers
        ),
        422,
        "events",
    )
    assert_problem(
        await client.post(
            url,
            json={"name": "x", "url": "https://a.example.com", "events": ["*"], "format": "xml"},
            headers=owner.headers,
        ),
        422,
        "format",
    )
    assert_problem(
        await client.post(
            url,
            json={"name": "x", "url": "https://a.example.com", "events": ["*"], "secret": "mine"},
            headers=owner.headers,
        ),
        422,
        "secret",
    )
    hook_id, _, _ = await create_webhook(client, owner)
    r = await client.patch(
        f"/api/v1/webhooks/{hook_id}", json={"url": "http://[::1]:80/"}, headers=owner.headers
    )
    assert_problem(r, 422, "url")
    r = await client.post(
        f"/api/v1/webhooks/{hook_id}/rotate-secret", json={"grace_seconds": -1}, headers=owner.headers
    )
    assert_problem(r, 422, "grace_seconds")
    r = await client.get(
        f"/api/v1/webhooks/{hook_id}/deliveries", params={"status": "bogus"}, headers=owner.headers
    )
    assert_problem(r, 400)
    r = await client.get(
        f"/api/v1/webhooks/{hook_id}/deliveries", params={"cursor": "!!"}, headers=owner.headers
    )
    assert_problem(r, 400, "query.cursor")


async def test_other_tenants_get_404_and_members_without_org_admin_403(client, api) -> None:
    owner, members = await team(api, "hookten", dev="developer")
    stranger = await api.register("hookstranger")
    hook_id, _, _ = await create_webhook(client, owner, events=["member.*"])
    r = await client.post(f"/api/v1/webhooks/{hook_id}/test", headers=owner.headers)
    delivery_id = r.json()["id"]
    calls = [
        ("GET", f"/api/v1/webhooks/{hook_id}", None),
        ("PATCH", f"/api/v1/webhooks/{hook_id}", {"name": "mine"}),
        ("DELETE", f"/api/v1/webhooks/{hook_id}", None),
        ("GET", f"/api/v1/webhooks/{hook_id}/deliveries", None),
        ("POST", f"/api/v1/webhooks/{hook_id}/test", None),
        ("POST", f"/api/v1/webhooks/{hook_id}/rotate-secret", {}),
        ("GET", f"/api/v1/deliveries/{delivery_id}", None),
        ("POST", f"/api/v1/deliveries/{delivery_id}/redeliver", None),
    ]
    for method, path, body in calls:
        r = await client.request(method, path, json=body, headers=stranger.headers)
        assert_problem(r, 404)
        r = await client.request(method, path, json=body, headers=members["dev"].headers)
        assert_problem(r, 403)
    assert_problem(await client.get(f"/api/v1/orgs/{owner.org_slug}/webhooks", headers=stranger.headers), 404)
    assert_problem(
        await client.get(f"/api/v1/orgs/{owner.org_slug}/webhooks", headers=members["dev"].headers), 403
    )
    assert_problem(await client.get(f"/api/v1/webhooks/{uuid.uuid4()}", headers=owner.headers), 404)
    assert (await client.get(f"/api/v1/webhooks/{hook_id}", headers=owner.headers)).json()["name"] == "hook"


async def _deliveries(client, owner, hook_id: str) -> list[dict]:
    r = await client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=owner.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_events_become_deliveries_for_the_webhooks_that_want_them(client, api) -> None:
    owner, _ = await team(api, "hookfan")
    members_hook, _, _ = await create_webhook(client, owner, events=["member.*"])
    errors_hook, _, _ = await create_webhook(client, owner, events=["execution.errored"])
    off_hook, _, _ = await create_webhook(client, owner, events=["*"], enabled=False)
    joiner = await api.register("hookjoiner")
    await api.add_member(owner, joiner, "viewer")
    [delivery] = await _deliveries(client, owner, members_hook)
    assert (delivery["event_type"], delivery["status"], delivery["manual"]) == (
        "member.added",
        "pending",
        False,
    )
    assert (
        await _deliveries(client, owner, errors_hook) == []
        and await _deliveries(client, owner, off_hook) == []
    )
    detail = (await client.get(f"/api/v1/deliveries/{delivery['id']}", headers=owner.headers)).json()
    body = json.loads(detail["payload"])
    assert body["version"] == 1 and body["type"] == "member.added" and body["id"] == delivery["event_id"]
    assert body["organization"] == {"id": owner.org_id, "slug": owner.org_slug}
    assert body["actor"]["label"] == owner.email
    assert body["data"] == {"user_id": joiner.user_id, "email": joiner.email, "role": "viewer"}
    assert detail["attempts"] == []
    r = await client.delete(f"/api/v1/orgs/{owner.org_slug}/members/{joiner.user_id}", headers=owner.headers)
    assert r.status_code == 204
    types = [d["event_type"] for d in await _deliveries(client, owner, members_hook)]
    assert types == ["member.removed", "member.added"]
    # Disabling cancels what waits; deliveries can be filtered by status.
    r = await client.patch(f"/api/v1/webhooks/{members_hook}", json={"enabled": False}, headers=owner.headers)
    assert r.json()["enabled"] is False and r.json()["disabled_reason"] == "disabled by hand"
    statuses = {d["status"] for d in await _deliveries(client, owner, members_hook)}
    assert statuses == {"canceled"}
    r = await client.get(
        f"/api/v1/webhooks/{members_hook}/deliveries", params={"status": "pending"}, headers=owner.headers
    )
    assert r.json()["items"] == []


async def test_test_and_redeliver_make_manual_deliveries(client, api) -> None:
    owner, _ = await team(api, "hooktest")
    hook_id, _, _ = await create_webhook(client, owner, events=["drift.detected"], enabled=False)
    r = await client.post(f"/api/v1/webhooks/{hook_id}/test", headers=owner.headers)
    assert r.status_code == 202, r.text
    test = r.json()
    assert (test["event_type"], test["manual"], test["status"]) == ("webhook.test", True, "pending")
    r = await client.post(f"/api/v1/deliveries/{test['id']}/redeliver", headers=owner.headers)
    assert r.status_code == 202
    again = r.json()
    assert (
        again["redelivery_of"] == test["id"]
        and again["event_id"] == test["event_id"]
        and again["id"] != test["id"]
    )
    first, second = [
        (await client.get(f"/api/v1/deliveries/{d}", headers=owner.headers)).json()["payload"]
        for d in (test["id"], again["id"])
    ]
    assert first == second and json.loads(first)["data"]["webhook_id"] == hook_id
    # Pagination over deliveries, newest first.
    page = (
        await client.get(f"/api/v1/webhooks/{hook_id}/deliveries", params={"limit": 1}, headers=owner.headers)
    ).json()
    assert [d["id"] for d in page["items"]] == [again["id"]] and page["next_cursor"]
    page = (
        await client.get(
            f"/api/v1/webhooks/{hook_id}/deliveries",
            params={"limit": 1, "cursor": page["next_cursor"]},
            headers=owner.headers,
        )
    ).json()
    assert [d["id"] for d in page["items"]] == [test["id"]] and page["next_cursor"] is None


async def test_secrets_are_shown_once_rotated_with_grace_and_never_stored_or_logged_in_clear(
    client, api, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    owner, _ = await team(api, "hooksecret")
    hook_id, secret, _ = await create_webhook(client, owner)
    r = await client.post(f"/api/v1/webhooks/{hook_id}/rotate-secret", json={}, headers=owner.headers)
    assert r.status_code == 200, r.text
    rotated = r.json()
    newer = rotated["secret"]
    assert newer != secret and rotated["webhook"]["secret_prefix"] == newer[:10]
    assert rotated["webhook"]["previous_secret_expires_at"] is not None
    r = await client.post(
        f"/api/v1/webhooks/{hook_id}/rotate-secret", json={"grace_seconds": 0}, headers=owner.headers
    )
    newest = r.json()["secret"]
    assert r.json()["webhook"]["previous_secret_expires_at"] is None
    seen = []
    for path in (
        f"/api/v1/webhooks/{hook_id}",
        f"/api/v1/orgs/{owner.org_slug}/webhooks",
        f"/api/v1/webhooks/{hook_id}/deliveries",
    ):
        seen.append((await client.get(path, headers=owner.headers)).text)
    seen.append(
        (await client.patch(f"/api/v1/webhooks/{hook_id}", json={"name": "n"}, headers=owner.headers)).text
    )
    seen.append((await client.get(f"/api/v1/orgs/{owner.org_slug}/audit-logs", headers=owner.headers)).text)
    dump = database_dump()
    for value in (secret, newer, newest):
        assert all(value not in text for text in seen)
        assert value not in dump and value[6:] not in dump
        assert value not in caplog.text
    assert "webhook_secrets" in dump


async def test_deliveries_are_not_made_for_other_organizations(client, api) -> None:
    owner, _ = await team(api, "hookiso")
    other, _ = await team(api, "hookiso2")
    hook_id, _, _ = await create_webhook(client, owner, events=["*"])
    joiner = await api.register("hookiso-joiner")
    await api.add_member(other, joiner, "viewer")
    assert await WebhookDelivery.count().where(WebhookDelivery.webhook == uuid.UUID(hook_id)) == 0
