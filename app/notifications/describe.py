"""What an event says to a person: a title, a sentence and a link to the object, for notifications
and for the Slack-compatible webhook format. Pure: data in, text out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Description:
    title: str
    body: str
    link: str  # the API path of the object the event is about ("" when there is none)


def _get(data: Mapping[str, Any], key: str, default: str = "?") -> str:
    value = data.get(key)
    return default if value is None or value == "" else str(value)


def _execution(event_type: str, data: Mapping[str, Any]) -> Description:
    what = f"{_get(data, 'operation', 'execution')} #{_get(data, 'number')} in {_get(data, 'environment')}"
    link = f"/api/v1/executions/{data['execution_id']}" if data.get("execution_id") else ""
    verb = event_type.split(".", 1)[1].replace("_", " ")
    titles = {
        "needs_approval": f"The {what} waits for you",
        "errored": f"The {what} failed",
        "applied": f"The {what} was applied",
        "canceled": f"The {what} was canceled",
    }
    title = titles.get(verb.replace(" ", "_"), f"The {what}: {verb}")
    body = f"Design version {_get(data, 'design_version')}."
    if event_type == "execution.needs_approval":
        body = (
            f"Its plan of design version {_get(data, 'design_version')} waits for approval or confirmation."
        )
    if data.get("reason"):
        body += f" {data['reason']}"
    return Description(title, body, link)


def _drift(event_type: str, data: Mapping[str, Any]) -> Description:
    where = f"the {data['environment']} environment" if data.get("environment") else "a pipeline"
    check = data.get("drift_check_id") or data.get("check_id")
    link = f"/api/v1/drift-checks/{check}" if check else ""
    if not link and data.get("pipeline_id"):
        link = f"/api/v1/pipelines/{data['pipeline_id']}"
    if event_type == "drift.detected":
        count = data.get("resources_drifted") or data.get("drifted")
        extra = f" ({count} resources)" if isinstance(count, int) else ""
        return Description(
            f"Drift detected in {where}", f"Real infrastructure differs from its state{extra}.", link
        )
    if event_type == "drift.resolved":
        return Description(f"Drift resolved in {where}", "Infrastructure matches its state again.", link)
    reason = f" {data['error']}" if data.get("error") else ""
    return Description(f"A drift check failed in {where}", f"The check could not finish.{reason}", link)


def describe(event_type: str, data: Mapping[str, Any], org_slug: str = "") -> Description:
    """The words for ``event_type`` with its event ``data``; something sensible for any type."""
    domain = event_type.split(".", 1)[0]
    if domain == "execution":
        return _execution(event_type, data)
    if domain == "drift":
        return _drift(event_type, data)
    if event_type == "state.force_unlocked":
        name = _get(data, "state")
        link = f"/api/v1/orgs/{org_slug}/states/{name}" if org_slug and data.get("state") else ""
        why = f" {data['reason']}" if data.get("reason") else ""
        holder = f" held by {data['holder']}" if data.get("holder") else ""
        return Description(
            f"The lock of state {name} was removed", f"Its lock{holder} was forced open.{why}", link
        )
    if event_type == "invitation.created":
        org = _get(data, "organization_name", org_slug or "an organization")
        return Description(
            f"You are invited to join {org}",
            f"{_get(data, 'invited_by', 'Someone')} invited you as {_get(data, 'role')}. "
            "The email you received holds the link to accept.",
            "",
        )
    if event_type == "webhook.disabled":
        link = f"/api/v1/webhooks/{data['webhook_id']}" if data.get("webhook_id") else ""
        return Description(
            f"Webhook {_get(data, 'name')} was disabled",
            f"{_get(data, 'reason', 'Its deliveries kept failing.')} Fix the receiver, then enable it again.",
            link,
        )
    if domain == "member":
        who = _get(data, "email", _get(data, "user_id"))
        verb = "joined" if event_type == "member.added" else "left"
        return Description(f"{who} {verb} {org_slug or 'the organization'}", "", "")
    if domain == "pipeline" and data.get("pipeline_id"):
        return Description(
            f"Pipeline {event_type.split('.', 1)[1]}", "", f"/api/v1/pipelines/{data['pipeline_id']}"
        )
    return Description(event_type, "", "")


def text(event_type: str, data: Mapping[str, Any], org_slug: str = "", base_url: str = "") -> str:
    """One line of plain text (Slack's ``text``)."""
    words = describe(event_type, data, org_slug)
    line = f"{words.title}. {words.body}".strip() if words.body else words.title
    if words.link and base_url:
        line += f" {base_url.rstrip('/')}{words.link}"
    return line
