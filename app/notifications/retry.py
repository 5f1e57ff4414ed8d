"""What an attempt's result means for its delivery: done, try again later (exponential backoff
with jitter, for up to the retry window), or give up. Pure: the caller supplies the clock and the
random draw."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

MAX_DELAY_SECONDS = 3600.0
MAX_RETRY_AFTER_SECONDS = 3600.0

# What went wrong before any HTTP status arrived. Timeouts and connection errors (TLS failures
# included: a certificate gets fixed) are worth another try, as is a problem on Board3's side (a
# secret it cannot decrypt until its key is configured); a refused address or URL is not.
Failure = Literal["timeout", "connection", "refused", "invalid", "internal"]
RETRIED_FAILURES = frozenset({"timeout", "connection", "internal"})


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None = None
    failure: Failure | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, from a 429's or 503's Retry-After header

    @property
    def succeeded(self) -> bool:
        return self.failure is None and self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Literal["succeeded", "retry", "failed"]
    next_attempt_at: dt.datetime | None = None
    reason: str | None = None


def retryable(result: AttemptResult) -> bool:
    """5xx, 408, 429, timeouts and connection errors; never other 4xx or redirects."""
    if result.failure is not None:
        return result.failure in RETRIED_FAILURES
    code = result.status_code or 0
    return code >= 500 or code in (408, 429)


def backoff(attempts: int, base: float, draw: float) -> float:
    """Seconds before the next try after ``attempts`` tries: ``base`` doubled each time up to an
    hour, the second half drawn at random (``draw`` in [0, 1)) so that receivers coming back after
    an outage are not hit by every retry at once."""
    ceiling = min(MAX_DELAY_SECONDS, base * 2 ** max(0, attempts - 1))
    return ceiling / 2 + ceiling / 2 * draw


def reason(result: AttemptResult) -> str:
    if result.failure is not None:
        return result.error or result.failure
    code = result.status_code or 0
    if 300 <= code < 400:
        return f"the receiver answered {code}; redirects are not followed"
    return f"the receiver answered {code}"


def decide(
    result: AttemptResult,
    *,
    attempts: int,
    created_at: dt.datetime,
    now: dt.datetime,
    base: float,
    window: float,
    manual: bool,
    draw: float,
) -> Decision:
    """The delivery's fate after its ``attempts``-th try. Manual deliveries (tests, redeliveries)
    get one try; others are retried while the next try falls within ``window`` of their creation."""
    if result.succeeded:
        return Decision("succeeded")
    why = reason(result)
    if manual or not retryable(result):
        return Decision("failed", reason=why)
    delay = backoff(attempts, base, draw)
    if result.retry_after is not None:
        delay = max(delay, min(result.retry_after, MAX_RETRY_AFTER_SECONDS))
    at = now + dt.timedelta(seconds=delay)
    if at > created_at + dt.timedelta(seconds=window):
        return Decision("failed", reason=f"{why}; gave up after {attempts} attempts")
    return Decision("retry", next_attempt_at=at, reason=why)
