"""The shared Redis client (production mode only)."""

from __future__ import annotations

from redis.asyncio import Redis


def make_redis(url: str) -> Redis:
    """One client per process; connections are opened lazily by its pool."""
    return Redis.from_url(url, decode_responses=False, health_check_interval=30)
