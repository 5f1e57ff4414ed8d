"""Redis pub/sub for Litestar channels that survives Redis going away and coming back.

Litestar's ``RedisChannelsPubSubBackend`` lets a connection error escape its event stream, which
ends the plugin's one subscriber task for good: no stream of the process got an event again until
it restarted. Its publisher task dies the same way on a failed publish. This backend keeps both
alive:

- the event stream catches the error, drops the pub/sub connection and reconnects with backoff
  (0.1 s doubling to 5 s), subscribing again to every channel that still has subscribers;
- once reconnected it delivers ``RESYNC`` on each of those channels: events published meanwhile
  are gone (pub/sub keeps no history), so open streams are told to refetch;
- subscribing and unsubscribing while Redis is down only update the wanted set;
- a publish that fails is logged (once per outage) and dropped; publishers never see an error.

Channel keys are the ones Litestar's backend uses (``<prefix>_<CHANNEL>``), so processes running
either backend exchange events during a rolling upgrade.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncGenerator, Iterable
from typing import Any

from litestar.channels.backends.base import ChannelsBackend
from redis.asyncio import Redis

from app.lib.outage import REDIS_FAULTS, Dependency

log = logging.getLogger("board3.channels")

RESYNC = b"\x00board3:resync"
BACKOFF_START_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0
POLL_SECONDS = 1.0


class ResilientRedisChannels(ChannelsBackend):
    def __init__(self, redis: Redis, key_prefix: str) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._wanted: set[str] = set()
        self._pubsub: Any = None  # redis.asyncio.client.PubSub while connected
        self._lost = False  # the connection was lost since the last successful subscription
        self._changed: asyncio.Event | None = None
        self.subscriber_link = Dependency("redis pub/sub (live events)")
        self.publisher_link = Dependency("redis publish (live events)")

    def _key(self, channel: str) -> str:
        return f"{self._prefix}_{channel.upper()}"

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def on_startup(self) -> None:
        self._changed = asyncio.Event()

    async def on_shutdown(self) -> None:
        await self._drop()

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        try:
            for channel in set(channels):
                await self._redis.publish(self._key(channel), data)
        except Exception as exc:  # the plugin's publisher task must outlive any failure
            self.publisher_link.failed(exc)
        else:
            self.publisher_link.recovered()

    async def subscribe(self, channels: Iterable[str]) -> None:
        new = set(channels) - self._wanted
        self._wanted |= new
        if new and self._pubsub is not None:
            try:
                await self._pubsub.subscribe(*(self._key(c) for c in new))
            except REDIS_FAULTS as exc:
                await self._connection_lost(exc)
        self._wake()

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        gone = self._wanted & set(channels)
        self._wanted -= gone
        if gone and self._pubsub is not None:
            try:
                await self._pubsub.unsubscribe(*(self._key(c) for c in gone))
            except REDIS_FAULTS as exc:
                await self._connection_lost(exc)

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        backoff = BACKOFF_START_SECONDS
        while True:
            if not self._wanted:
                await self._idle()
                continue
            if self._pubsub is None:
                if not await self._connect():
                    await asyncio.sleep(backoff * random.uniform(0.8, 1.2))  # noqa: S311
                    backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
                    continue
                backoff = BACKOFF_START_SECONDS
                if self._lost:
                    self._lost = False
                    self.subscriber_link.recovered()
                    for channel in list(self._wanted):
                        yield channel, RESYNC
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_SECONDS)
            except Exception as exc:  # also a connection closed under it by (un)subscribe
                await self._connection_lost(exc)
                continue
            if message is None or message.get("type") != "message":
                continue
            key = message["channel"].decode()
            for channel in list(self._wanted):  # few per process; keys are upper-cased names
                if self._key(channel) == key:
                    yield channel, message["data"]

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        raise NotImplementedError("Redis pub/sub keeps no history")

    async def _idle(self) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout=POLL_SECONDS)

    async def _connect(self) -> bool:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(*(self._key(c) for c in self._wanted))
        except REDIS_FAULTS as exc:
            self._lost = True
            self.subscriber_link.failed(exc)
            await _close(pubsub)
            return False
        self._pubsub = pubsub
        return True

    async def _connection_lost(self, exc: BaseException) -> None:
        self._lost = True
        self.subscriber_link.failed(exc)
        await self._drop()

    async def _drop(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await _close(pubsub)


async def _close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception as exc:  # closing a broken connection may fail too; it is gone either way
        log.debug("closing a pub/sub connection failed: %s", exc)
