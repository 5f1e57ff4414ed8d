"""Helpers for the notification and webhook tests in process."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import subprocess
import uuid
from typing import Any

from app.config import Settings, get_settings
from app.notifications.tables import Webhook
from tests.conftest import BACKEND
from tests.support.api import Account, Api


async def team(api: Api, tag: str = "team", **roles: str) -> tuple[Account, dict[str, Account]]:
    """An owner and members with the given roles (``admin="admin", dev="developer"``)."""
    owner = await api.register(tag)
    members = {}
    for name, role in roles.items():
        members[name] = await api.register(f"{tag}-{name}")
        await api.add_member(owner, members[name], role)
    return owner, members


async def create_webhook(client: Any, owner: Account, **body: Any) -> tuple[str, str, dict[str, Any]]:
    payload = {"name": "hook", "url": "https://hooks.example.com/board3", "events": ["*"]} | body
    r = await client.post(f"/api/v1/orgs/{owner.org_slug}/webhooks", json=payload, headers=owner.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    return created["webhook"]["id"], created["secret"], created["webhook"]


async def point_at(webhook_id: str, url: str) -> None:
    """Aim a webhook at a local receiver, as if its name now resolved there (the API refuses
    loopback URLs with BOARD3_WEBHOOK_ALLOW_PRIVATE off, as in this test session)."""
    await Webhook.update({Webhook.url: url}).where(Webhook.id == uuid.UUID(webhook_id))


def settings_with(**notify: Any) -> Settings:
    base = get_settings()
    return dataclasses.replace(base, notify=dataclasses.replace(base.notify, **notify))


def database_dump() -> str:
    if BACKEND == "sqlite":
        with sqlite3.connect(os.path.join(os.environ["BOARD3_DATA_DIR"], "board3.sqlite3")) as db:
            return "\n".join(db.iterdump())
    return subprocess.run(
        ["pg_dump", os.environ["DATABASE_URL"]], capture_output=True, text=True, check=True
    ).stdout
