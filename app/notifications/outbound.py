"""The SSRF guard's connector: resolve a webhook's host once, check every address it resolves to
(``app.notifications.ssrf``), and connect only to a checked address.

HTTP goes through httpcore with a network backend pinned to the checked addresses, so no second
DNS lookup can send the request elsewhere (DNS rebinding), no proxy from the environment is used,
and redirects are never followed (httpcore has no notion of them; a 3xx is an answer). Connecting
and the whole request have timeouts, and no more than ``READ_LIMIT`` bytes of a response are read.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore

from app.notifications.retry import AttemptResult
from app.notifications.ssrf import IPAddress, Refused, Target, address_refusal, name_refusal, parse_target

READ_LIMIT = 64 * 1024  # bytes of a response read at most
EXCERPT_BYTES = 2048  # of which this many are kept with the attempt
CONNECT_TIMEOUT = 5.0
RESOLVE_TIMEOUT = 5.0

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


class Unresolvable(Exception):
    """The host name has no address (now)."""


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order, without duplicates."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"{host} does not resolve ({exc})") from None
    found: list[IPAddress] = []
    for _, _, _, _, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and len(sockaddr) > 3 and sockaddr[3]:
            address = ipaddress.IPv6Address(f"{address}%{sockaddr[3]}")  # keep the zone: refused
        if address not in found:
            found.append(address)
    return found


async def checked_addresses(
    target: Target, allow_private: bool, resolver: Resolver = system_resolver
) -> list[IPAddress]:
    """The addresses Board3 may connect to for ``target``: all of those its host resolves to, or
    Refused if any of them is not allowed (a name with one private address among public ones is
    refused, not half-used). Unresolvable when the name has no address."""
    if target.literal is not None:
        addresses: Sequence[IPAddress] = [target.literal]
    else:
        why = name_refusal(target.host, allow_private)
        if why:
            raise Refused(why)
        try:
            addresses = await asyncio.wait_for(resolver(target.host, target.port), RESOLVE_TIMEOUT)
        except TimeoutError:
            raise Unresolvable(f"{target.host} did not resolve within {RESOLVE_TIMEOUT:g}s") from None
        if not addresses:
            raise Unresolvable(f"{target.host} has no address")
    for address in addresses:
        why = address_refusal(address, allow_private)
        if why:
            raise Refused(why if target.literal else f"{target.host} resolves to {why}")
    return list(addresses)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the checked addresses, in order, whatever the name httpcore asks for."""

    def __init__(self, host: str, addresses: Sequence[IPAddress]) -> None:
        self.host = host
        self.addresses = list(addresses)
        self.inner = httpcore.AnyIOBackend()
        self.connected: IPAddress | None = None

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if host != self.host:
            raise httpcore.ConnectError(f"refusing to connect to {host}: only {self.host} was checked")
        failure: Exception = httpcore.ConnectError("no address to connect to")
        for address in self.addresses:
            try:
                stream = await self.inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            self.connected = address
            return stream
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@dataclass(frozen=True, slots=True)
class Sent:
    """What one POST came to."""

    result: AttemptResult
    excerpt: str | None
    duration_ms: int
    address: str | None  # where it connected


def _retry_after(headers: Sequence[tuple[bytes, bytes]]) -> float | None:
    for name, value in headers:
        if name.lower() == b"retry-after":
            try:
                return max(0.0, float(value.decode("ascii").strip()))
            except (UnicodeDecodeError, ValueError):
                return None  # an HTTP date: use our own backoff
    return None


def _excerpt(data: bytes) -> str:
    return data[:EXCERPT_BYTES].decode("utf-8", errors="replace").replace("\x00", "")


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


async def post(
    url: str,
    body: bytes,
    headers: Sequence[tuple[str, str]],
    *,
    allow_private: bool,
    timeout: float,  # noqa: ASYNC109 (it bounds connecting and each read too, not only the whole)
    resolver: Resolver = system_resolver,
) -> Sent:
    """POST ``body`` to ``url`` under the SSRF guard. Never raises for a network problem or a
    refusal: the result says what happened (``failure``: refused, invalid, timeout, connection)."""
    started = time.monotonic()

    def done(result: AttemptResult, excerpt: str | None = None, address: str | None = None) -> Sent:
        return Sent(result, excerpt, int((time.monotonic() - started) * 1000), address)

    try:
        target = parse_target(url)
        addresses = await checked_addresses(target, allow_private, resolver)
    except Refused as exc:
        return done(AttemptResult(failure="refused", error=f"refused: {exc}"))
    except Unresolvable as exc:
        return done(AttemptResult(failure="connection", error=str(exc)))
    backend = PinnedBackend(target.host, addresses)
    request_headers = [("Host", target.authority), *headers, ("Content-Length", str(len(body)))]
    limits = {"connect": min(CONNECT_TIMEOUT, timeout), "read": timeout, "write": timeout, "pool": timeout}
    address = None
    try:
        async with (
            asyncio.timeout(timeout),
            httpcore.AsyncConnectionPool(
                ssl_context=_ssl_context() if target.scheme == "https" else None,
                max_connections=1,
                retries=0,
                network_backend=backend,
            ) as pool,
            pool.stream(
                "POST",
                httpcore.URL(scheme=target.scheme, host=target.host, port=target.port, target=target.path),
                headers=request_headers,
                content=body,
                extensions={"timeout": limits},
            ) as response,
        ):
            address = str(backend.connected) if backend.connected else None
            received = bytearray()
            async for chunk in response.aiter_stream():
                received += chunk
                if len(received) >= READ_LIMIT:
                    break
            return done(
                AttemptResult(status_code=response.status, retry_after=_retry_after(response.headers)),
                _excerpt(bytes(received)),
                address,
            )
    except (TimeoutError, httpcore.TimeoutException):
        return done(
            AttemptResult(failure="timeout", error=f"no complete answer within {timeout:g}s"), None, address
        )
    except httpcore.UnsupportedProtocol as exc:
        return done(AttemptResult(failure="invalid", error=f"unusable URL: {exc}"))
    except (httpcore.NetworkError, httpcore.ProtocolError, ssl.SSLError, OSError) as exc:
        kind = type(exc).__name__
        return done(AttemptResult(failure="connection", error=f"{kind}: {exc}"[:500]), None, address)
