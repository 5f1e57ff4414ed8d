"""One pipelined Redis connection for the request gate's single call per request.

redis-py checks a connection out of its pool, checks it for unread data and runs its retry
wrapper for every command: about 60 µs of CPU per call, measured at 32 concurrent callers
(``bench/gate.py``: 16k calls/s against 45k/s for the same script on one pipelined connection).
Every authenticated request makes exactly one gate call, so that overhead was the largest single
cost of a cached design read. This connection writes each command the moment it is made and
resolves replies in order (Redis answers a connection's commands in order), so concurrent
requests share one socket without waiting for each other's round trips.

Scope is deliberately small: commands and replies as hiredis parses them, ``EVALSHA`` with the
``NOSCRIPT`` fallback, AUTH/SELECT from the URL (``redis://``, ``rediss://``, ``unix://``), TLS
with the URL's options exactly as redis-py applies them (``ssl_cert_reqs``, ``ssl_ca_certs``,
``ssl_certfile``/``ssl_keyfile``, ``ssl_check_hostname``, ...), a timeout per call, and
reconnection on the next call after any failure. A failed connection attempt is not repeated for
``RECONNECT_PAUSE_SECONDS``: calls in between fail at once with the same error, so an unreachable
Redis costs each request nothing rather than a connect timeout each. Everything else Board3 asks of
Redis goes through redis-py.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import hiredis
from redis.asyncio.connection import RedisSSLContext, SSLConnection, UnixDomainSocketConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

DEFAULT_TIMEOUT_SECONDS = 5.0
RECONNECT_PAUSE_SECONDS = 0.5


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: Any = None  # asyncio's or uvloop's transport (uvloop's is no subclass)
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if not self.waiting:  # a reply nobody asked for: the stream cannot be trusted
                self.fail(RedisConnectionError("unexpected reply from Redis"))
                return
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(exc or RedisConnectionError("connection to Redis closed"))

    def fail(self, exc: BaseException) -> None:
        """Close the connection and fail every pending call: after an error or a timeout the
        order of replies can no longer be matched to callers."""
        if self.lost is None:
            self.lost = exc if isinstance(exc, RedisConnectionError) else RedisConnectionError(str(exc))
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_exception(self.lost)
        if self.transport is not None:
            self.transport.close()

    def send(self, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        assert self.transport is not None
        waiter = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        self.transport.write(hiredis.pack_command(args))
        return waiter


class PipelinedRedis:
    """One connection, opened on first use and again after a failure."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self._options = parse_url(url)
        self._timeout = timeout
        self._protocol: _Protocol | None = None
        self._connecting = asyncio.Lock()
        self._failed: tuple[float, RedisConnectionError | RedisTimeoutError] | None = None

    async def execute(self, *args: Any) -> Any:
        """Send one command and return its reply; an error reply raises ``ResponseError``."""
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connect()
        waiter = protocol.send(args)
        try:
            async with asyncio.timeout(self._timeout):
                reply = await waiter
        except TimeoutError:
            timed_out = RedisTimeoutError(f"no reply from Redis within {self._timeout} s")
            protocol.fail(timed_out)
            raise timed_out from None
        if isinstance(reply, hiredis.ReplyError):
            raise ResponseError(str(reply))
        return reply

    async def evalsha(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        """Run a script by its digest, loading it (``EVAL``) when Redis does not know it yet."""
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            return await self.execute("EVAL", script.source, len(keys), *keys, *args)

    async def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None

    async def _connect(self) -> _Protocol:
        async with self._connecting:
            if self._protocol is not None and self._protocol.lost is None:
                return self._protocol  # another caller connected while this one waited
            if self._failed is not None and time.monotonic() - self._failed[0] < RECONNECT_PAUSE_SECONDS:
                raise type(self._failed[1])(str(self._failed[1]))
            try:
                async with asyncio.timeout(self._timeout):
                    protocol = await self._open()
                    await self._handshake(protocol)
            except TimeoutError:
                failure: RedisConnectionError | RedisTimeoutError = RedisTimeoutError(
                    f"could not connect to Redis within {self._timeout} s"
                )
            except OSError as exc:
                failure = RedisConnectionError(f"could not connect to Redis: {exc}")
            except RedisConnectionError as exc:
                failure = exc
            else:
                self._protocol, self._failed = protocol, None
                return protocol
            self._failed = (time.monotonic(), failure)
            raise failure

    async def _open(self) -> _Protocol:
        loop, options = asyncio.get_running_loop(), self._options
        kind = options.get("connection_class")
        if kind is UnixDomainSocketConnection:
            _, protocol = await loop.create_unix_connection(_Protocol, options["path"])
        else:
            host, port = options.get("host", "localhost"), options.get("port", 6379)
            tls = tls_context(options) if kind is SSLConnection else None
            _, protocol = await loop.create_connection(_Protocol, host, port, ssl=tls)
        return protocol

    async def _handshake(self, protocol: _Protocol) -> None:
        """AUTH and SELECT as the URL asks, pipelined like everything else."""
        options, sent = self._options, []
        if options.get("password"):
            user = [options["username"]] if options.get("username") else []
            sent.append(protocol.send(("AUTH", *user, options["password"])))
        if options.get("db"):
            sent.append(protocol.send(("SELECT", options["db"])))
        for reply in await asyncio.gather(*sent):
            if isinstance(reply, hiredis.ReplyError):
                protocol.fail(RedisConnectionError(str(reply)))
                raise RedisConnectionError(f"Redis refused the connection: {reply}")


def tls_context(options: Mapping[str, Any]) -> ssl.SSLContext:
    """The TLS context redis-py would build from the same ``rediss://`` URL options, with its
    defaults (certificates required), so both connections to Redis check the server alike."""
    return RedisSSLContext(
        keyfile=options.get("ssl_keyfile"),
        certfile=options.get("ssl_certfile"),
        cert_reqs=options.get("ssl_cert_reqs", "required"),
        ca_certs=options.get("ssl_ca_certs"),
        ca_data=options.get("ssl_ca_data"),
        check_hostname=bool(options.get("ssl_check_hostname", False)),
        min_version=options.get("ssl_min_version"),
        ciphers=options.get("ssl_ciphers"),
    ).get()


class Script:
    """A Lua script with its SHA1 digest (what ``EVALSHA`` names it by)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
