"""Webhook bodies: the versioned Board3 JSON envelope, or a Slack-compatible message. Pure.

A body is rendered once, when the delivery is created, and the same bytes go out on every attempt
(the signature covers them with the attempt's timestamp).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from app.notifications.describe import describe, text

PAYLOAD_VERSION = 1
Format = Literal["json", "slack"]
FORMATS: tuple[str, ...] = ("json", "slack")


@dataclass(frozen=True, slots=True)
class Event:
    """What a webhook is told about (a domain event, or the test event)."""

    id: uuid.UUID
    type: str
    created_at: dt.datetime
    organization_id: uuid.UUID
    organization_slug: str
    object_type: str = ""
    object_id: str = ""
    actor_type: str = "system"
    actor_id: uuid.UUID | None = None
    actor_label: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def envelope(event: Event) -> dict[str, Any]:
    """Version 1 of the JSON body (documented in docs/webhooks.md; fields are only ever added)."""
    return {
        "version": PAYLOAD_VERSION,
        "id": str(event.id),
        "type": event.type,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "organization": {"id": str(event.organization_id), "slug": event.organization_slug},
        "actor": {
            "type": event.actor_type,
            "id": str(event.actor_id) if event.actor_id else None,
            "label": event.actor_label,
        },
        "object": {"type": event.object_type, "id": event.object_id},
        "data": event.data,
    }


def _escape(value: str) -> str:
    """Slack mrkdwn treats &, < and > as markup."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(event: Event, base_url: str = "") -> dict[str, Any]:
    """A message Slack's incoming webhooks (and Mattermost's, Discord's ``/slack``) accept."""
    words = describe(event.type, event.data, event.organization_slug)
    heading = f"*{_escape(words.title)}*" + (f"\n{_escape(words.body)}" if words.body else "")
    if words.link and base_url:
        heading += f"\n<{base_url.rstrip('/')}{words.link}|Open in Board3>"
    context = f"`{event.type}` in {_escape(event.organization_slug)}"
    if event.actor_label:
        context += f" by {_escape(event.actor_label)}"
    return {
        "text": text(event.type, event.data, event.organization_slug, base_url),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": heading}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }


def render(fmt: str, event: Event, base_url: str = "") -> bytes:
    """The body to deliver for ``event`` in the webhook's format."""
    body = slack(event, base_url) if fmt == "slack" else envelope(event)
    return msgspec.json.encode(body)
