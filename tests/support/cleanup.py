"""What a test run or a benchmark leaves in Redis, removed: its key prefix, and the SAQ keys
named after its queues (``saq:job:<prefix>:jobs:<id>``, ``saq:<prefix>:jobs:queued``)."""

from __future__ import annotations


async def clear_redis(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    try:
        keys = [
            k
            for pattern in (f"{prefix}*", f"saq:*{prefix}:*")
            async for k in redis.scan_iter(match=pattern, count=1000)
        ]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()
