"""Store and channel factories: Redis-backed in production, in-memory in embedded mode.

Named stores: ``cache`` (read caches). Rate limits and revocations live in ``app.lib.gate``.
"""

from __future__ import annotations

from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.stores.registry import StoreRegistry
from redis.asyncio import Redis

from app.lib.channels import ResilientRedisChannels

STORE_NAMES = ("cache",)


def make_store_registry(redis: Redis | None, prefix: str) -> StoreRegistry:
    if redis is None:
        stores: dict[str, Store] = {name: MemoryStore() for name in STORE_NAMES}
        return StoreRegistry(stores=stores, default_factory=lambda name: MemoryStore())
    root = RedisStore(redis=redis, namespace=prefix)
    stores = {name: root.with_namespace(name) for name in STORE_NAMES}
    return StoreRegistry(stores=stores, default_factory=root.with_namespace)


def make_channels_backend(redis: Redis | None, prefix: str) -> ChannelsBackend:
    if redis is None:
        return MemoryChannelsBackend()
    return ResilientRedisChannels(redis, key_prefix=f"{prefix}:channels")


def make_channels_plugin(redis: Redis | None, prefix: str) -> ChannelsPlugin:
    """Pub/sub for live events and logs; channel names are created on demand."""
    return ChannelsPlugin(
        backend=make_channels_backend(redis, prefix),
        arbitrary_channels_allowed=True,
        create_ws_route_handlers=False,
    )
