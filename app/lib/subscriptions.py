"""One channel's messages as a queue, for the server-sent-event streams (a design's events, an
execution's log, a user's notifications)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from litestar.channels import ChannelsPlugin


@contextlib.asynccontextmanager
async def subscription(
    channels: ChannelsPlugin, channel: str, backlog: int | None = None
) -> AsyncIterator[asyncio.Queue[bytes]]:
    """The messages published on ``channel`` while the block runs, in arrival order. With
    ``backlog``, a reader too slow to keep up loses the oldest beyond that many (its stream
    refetches what it missed); without, every message waits for it."""
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=backlog or 0)

    async def on_message(payload: bytes) -> None:
        if backlog and queue.full():
            queue.get_nowait()
        queue.put_nowait(payload)

    async with (
        channels.start_subscription(channel) as subscriber,
        subscriber.run_in_background(on_message, join=False),
    ):
        yield queue
