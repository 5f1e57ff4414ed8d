"""The domain events webhooks can subscribe to and notifications are made from, and how a
webhook's event filter matches them. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from app.lib.errors import FieldError

EVENT_TYPES: dict[str, str] = {
    "execution.created": "An execution was started (it may wait for its state)",
    "execution.queued": "An execution's turn came; a worker will take it",
    "execution.planning": "A worker started planning an execution",
    "execution.needs_approval": "A plan waits for an approval or a confirmation",
    "execution.confirmed": "A plan was approved or confirmed and will be applied",
    "execution.applying": "A worker started applying a plan",
    "execution.applied": "An apply (or destroy) finished successfully",
    "execution.planned": "A plan-only execution finished, or a plan had no changes",
    "execution.discarded": "A plan was discarded instead of applied",
    "execution.errored": "An execution failed",
    "execution.canceled": "An execution was canceled",
    "execution.force_canceled": "An execution was force-canceled (terraform was killed)",
    "execution.cancel_requested": "Someone asked an execution to stop",
    "execution.force_cancel_requested": "Someone asked for a running execution to be killed",
    "pipeline.created": "A pipeline was created",
    "pipeline.updated": "A pipeline's settings changed",
    "pipeline.deleted": "A pipeline was deleted",
    "drift.detected": "A drift check found infrastructure that differs from its state",
    "drift.resolved": "A drift check found no more drift where there was some",
    "drift.errored": "A drift check failed",
    "state.force_unlocked": "A state's lock was removed by someone other than its holder",
    "member.added": "Someone joined the organization",
    "member.removed": "Someone left or was removed from the organization",
    "invitation.created": "Someone was invited to join the organization",
    "invitation.accepted": "An invitation was accepted",
    "invitation.revoked": "An invitation was revoked",
    "webhook.disabled": "A webhook was disabled after failing again and again",
}

# Sent to one webhook on request, whatever its filter (POST /api/v1/webhooks/{id}/test).
TEST_EVENT = "webhook.test"

# The event types that make notifications, and who receives them (``app.notifications.recipients``).
NOTIFYING: dict[str, str] = {
    "execution.needs_approval": "Approvers (`pipeline:approve`), or the starter when a confirmation will do",
    "execution.errored": "Whoever started the execution",
    "drift.detected": "The pipeline's watchers",
    "drift.resolved": "The pipeline's watchers",
    "drift.errored": "The pipeline's watchers",
    "state.force_unlocked": "The organization's state admins (`state:admin`)",
    "invitation.created": "The invited person, if they have an account",
    "webhook.disabled": "The organization's admins (`org:admin`)",
}

DOMAINS = frozenset(t.split(".", 1)[0] for t in EVENT_TYPES)
MAX_PATTERNS = 50


def matches(patterns: Iterable[str], event_type: str) -> bool:
    """Whether a webhook filter (exact types, ``domain.*`` or ``*``) selects ``event_type``."""
    domain = event_type.split(".", 1)[0]
    return any(p == "*" or p == event_type or p == f"{domain}.*" for p in patterns)


def pattern_errors(patterns: Sequence[str], field: str = "events") -> list[FieldError]:
    """Every filter entry that names no known event type or domain."""
    errors = []
    if not patterns:
        errors.append(FieldError(field, "name at least one event type, a domain (`drift.*`) or `*`"))
    for i, pattern in enumerate(patterns):
        known = pattern == "*" or pattern in EVENT_TYPES
        if pattern.endswith(".*"):
            known = pattern[:-2] in DOMAINS
        if not known:
            errors.append(FieldError(f"{field}[{i}]", f"unknown event type {pattern!r}"))
    return errors


def normalize(patterns: Sequence[str]) -> list[str]:
    """Sorted, without duplicates (``*`` alone stands for everything)."""
    unique = sorted(set(patterns))
    return ["*"] if "*" in unique else unique
