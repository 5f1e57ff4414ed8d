"""Pure parts of notifications and webhooks: signatures, retry decisions, event filters, bodies."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.notifications import catalog, signing
from app.notifications.describe import describe
from app.notifications.payloads import Event, render
from app.notifications.retry import AttemptResult, backoff, decide, retryable

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@settings(max_examples=200)
@given(st.binary(max_size=2000), st.integers(0, 2**33))
def test_a_signature_verifies_and_any_change_breaks_it(body: bytes, stamp: int) -> None:
    secret, other = signing.new_secret(), signing.new_secret()
    header = signing.header([secret], stamp, body)
    assert signing.verify(secret, header, body, now=stamp)
    assert not signing.verify(other, header, body, now=stamp)
    assert not signing.verify(secret, header, body + b"x", now=stamp)
    assert not signing.verify(secret, header.replace(f"t={stamp}", f"t={stamp + 1}"), body, now=stamp)


def test_old_signatures_are_replays_and_rotation_signs_with_both_secrets() -> None:
    new, old = signing.new_secret(), signing.new_secret()
    header = signing.header([new, old], 1000, b"{}")
    assert header.startswith("t=1000,v1=") and header.count("v1=") == 2
    assert signing.verify(new, header, b"{}", now=1000) and signing.verify(old, header, b"{}", now=1000)
    assert signing.verify(new, header, b"{}", now=1000 + signing.TOLERANCE_SECONDS)
    assert not signing.verify(new, header, b"{}", now=1001 + signing.TOLERANCE_SECONDS)
    assert not signing.verify(new, "v1=abc", b"{}", now=1000)
    assert signing.display_prefix(new) == new[:10] and new.startswith("whsec_") and len(new) > 40


@pytest.mark.parametrize(
    ("result", "again"),
    [
        (AttemptResult(status_code=500), True),
        (AttemptResult(status_code=503), True),
        (AttemptResult(status_code=408), True),
        (AttemptResult(status_code=429), True),
        (AttemptResult(failure="timeout"), True),
        (AttemptResult(failure="connection"), True),
        (AttemptResult(status_code=400), False),
        (AttemptResult(status_code=404), False),
        (AttemptResult(status_code=410), False),
        (AttemptResult(status_code=302), False),
        (AttemptResult(failure="refused"), False),
    ],
)
def test_what_is_retried(result: AttemptResult, again: bool) -> None:
    assert retryable(result) is again


@settings(max_examples=200)
@given(st.integers(1, 40), st.floats(0, 0.999), st.integers(1, 120))
def test_backoff_doubles_with_jitter_and_is_capped(attempts: int, draw: float, base: int) -> None:
    delay = backoff(attempts, base, draw)
    ceiling = min(3600, base * 2 ** (attempts - 1))
    assert ceiling / 2 <= delay <= ceiling


def test_retries_stop_at_the_window_and_manual_deliveries_get_one_try() -> None:
    created = NOW - dt.timedelta(hours=23, minutes=59)
    kw = {"created_at": NOW, "now": NOW, "base": 30, "window": 86400, "draw": 0.5}
    first = decide(AttemptResult(status_code=500), attempts=1, manual=False, **kw)
    assert first.outcome == "retry" and first.next_attempt_at == NOW + dt.timedelta(seconds=22.5)
    late = decide(AttemptResult(status_code=500), attempts=12, manual=False, **(kw | {"created_at": created}))
    assert late.outcome == "failed" and "gave up after 12 attempts" in (late.reason or "")
    assert decide(AttemptResult(status_code=500), attempts=1, manual=True, **kw).outcome == "failed"
    assert decide(AttemptResult(status_code=404), attempts=1, manual=False, **kw).outcome == "failed"
    assert decide(AttemptResult(status_code=204), attempts=3, manual=False, **kw).outcome == "succeeded"
    slow = decide(AttemptResult(status_code=429, retry_after=600), attempts=1, manual=False, **kw)
    assert slow.next_attempt_at == NOW + dt.timedelta(seconds=600)
    redirect = decide(AttemptResult(status_code=301), attempts=1, manual=False, **kw)
    assert redirect.outcome == "failed" and "redirects are not followed" in (redirect.reason or "")


def test_event_filters() -> None:
    assert catalog.matches(["*"], "drift.detected")
    assert catalog.matches(["drift.*"], "drift.resolved") and not catalog.matches(["drift.*"], "member.added")
    assert catalog.matches(["execution.errored", "member.added"], "member.added")
    assert not catalog.matches(["execution.errored"], "execution.applied")
    assert catalog.pattern_errors(["execution.*", "*", "state.force_unlocked"]) == []
    errors = catalog.pattern_errors(["execution.exploded", "nothing.*", "ok.*", "drift.detected"])
    assert [e.field for e in errors] == ["events[0]", "events[1]", "events[2]"]
    assert catalog.pattern_errors([])[0].field == "events"
    assert catalog.normalize(["b.x", "a.y", "b.x"]) == ["a.y", "b.x"] and catalog.normalize(["x", "*"]) == [
        "*"
    ]
    assert set(catalog.NOTIFYING) <= set(catalog.EVENT_TYPES)


def _event(type_: str = "execution.errored", **data) -> Event:
    return Event(
        id=uuid.UUID(int=7),
        type=type_,
        created_at=NOW,
        organization_id=uuid.UUID(int=1),
        organization_slug="acme",
        object_type="execution",
        object_id="e1",
        actor_type="user",
        actor_id=uuid.UUID(int=2),
        actor_label="ada@example.com",
        data=data or {"execution_id": "e1", "number": 4, "operation": "apply", "environment": "prod"},
    )


def test_the_json_body_is_versioned_and_complete() -> None:
    body = json.loads(render("json", _event()))
    assert body == {
        "version": 1,
        "id": str(uuid.UUID(int=7)),
        "type": "execution.errored",
        "created_at": "2026-12-01T12:00:00Z",
        "organization": {"id": str(uuid.UUID(int=1)), "slug": "acme"},
        "actor": {"type": "user", "id": str(uuid.UUID(int=2)), "label": "ada@example.com"},
        "object": {"type": "execution", "id": "e1"},
        "data": {"execution_id": "e1", "number": 4, "operation": "apply", "environment": "prod"},
    }


def test_the_slack_body_is_a_message() -> None:
    body = json.loads(render("slack", _event(), base_url="https://board3.example.com"))
    assert body["text"].startswith("The apply #4 in prod failed")
    assert body["text"].endswith("https://board3.example.com/api/v1/executions/e1")
    assert body["blocks"][0]["text"]["text"].startswith("*The apply #4 in prod failed*")
    assert (
        "<https://board3.example.com/api/v1/executions/e1|Open in Board3>"
        in body["blocks"][0]["text"]["text"]
    )
    assert body["blocks"][1]["elements"][0]["text"] == "`execution.errored` in acme by ada@example.com"
    escaped = json.loads(render("slack", _event("member.added", email="<b>&@x")))
    assert "&lt;b&gt;&amp;@x" in escaped["blocks"][0]["text"]["text"]


@pytest.mark.parametrize("type_", [*catalog.EVENT_TYPES, "unknown.thing"])
def test_every_event_type_has_words(type_: str) -> None:
    words = describe(type_, {}, "acme")
    assert words.title
    filled = describe(
        type_, {"pipeline_id": "p", "execution_id": "e", "webhook_id": "w", "state": "s"}, "acme"
    )
    assert filled.title and (filled.link == "" or filled.link.startswith("/api/v1/"))
