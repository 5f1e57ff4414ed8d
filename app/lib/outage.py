"""When a dependency (Redis) goes away: one log line when the outage starts, one when it ends, and
a 503 ``application/problem+json`` with ``Retry-After`` for every request that needed it.

Requests keep trying the dependency (the pipelined connection reconnects on the next call, the
redis-py pool on its own), so service resumes by itself once it is back; nothing here waits or
retries. What the tracker adds is the logging: during an outage every authenticated request fails
the same way, and a traceback per request would bury the one line that matters.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("board3.outage")

RETRY_AFTER_SECONDS = 2

# What a Redis that is down, restarting, unreachable or read-only (a replica during a failover)
# raises. ``BusyLoadingError`` (loading its data after a restart) is a ConnectionError.
REDIS_FAULTS: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, ReadOnlyError)


class Dependency:
    """Whether a dependency is reachable, as the last calls found it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.down_since: float | None = None

    def failed(self, exc: BaseException) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.error(
                "%s is unreachable (%s: %s); requests that need it answer 503 until it is back",
                self.name,
                type(exc).__name__,
                str(exc)[:200],
            )

    def recovered(self) -> None:
        """Call after a successful call; cheap when nothing was wrong."""
        if self.down_since is not None:
            seconds = time.monotonic() - self.down_since
            self.down_since = None
            log.warning("%s is reachable again after %.1f s", self.name, seconds)


REDIS = Dependency("redis")
