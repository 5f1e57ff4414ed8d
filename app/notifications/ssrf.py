"""The SSRF guard's pure part: which webhook URLs are acceptable, and which addresses Board3 may
connect to. No I/O: ``app.notifications.outbound`` resolves names and connects.

A URL must be ``http`` or ``https``, carry no credentials, and name its host as a DNS name, a
canonical dotted-quad IPv4 address or a bracketed IPv6 address. Numeric forms that resolvers
accept but people do not read as addresses (``2130706433``, ``0x7f000001``, ``0177.0.0.1``,
``127.1``) are refused outright. Addresses are refused when loopback, private, link-local,
shared (CGNAT), unique-local or otherwise not global, unless private addresses are allowed
(``BOARD3_WEBHOOK_ALLOW_PRIVATE``); multicast, unspecified, reserved and cloud metadata addresses
are refused always. IPv6 addresses that carry an IPv4 address (mapped, compatible, 6to4, NAT64,
Teredo) are judged by the IPv4 address inside.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
SCHEMES = {"http": 80, "https": 443}
# Cloud instance metadata services: never a webhook receiver, whatever the configuration.
METADATA = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, ...
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    }
)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_NUMERIC_LABEL = re.compile(r"(0[xX][0-9A-Fa-f]*|[0-9]+)")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class Refused(ValueError):
    """The URL or address may not be used; the message says why (and never holds secrets)."""


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # lower-case DNS name, or an IP address without brackets
    port: int
    path: str  # path and query, from "/"
    literal: IPAddress | None  # the host when it is an IP address

    @property
    def authority(self) -> str:
        """``host[:port]`` as the Host header carries it."""
        host = f"[{self.host}]" if isinstance(self.literal, ipaddress.IPv6Address) else self.host
        return host if self.port == SCHEMES[self.scheme] else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.authority}{self.path}"


def _host(raw: str) -> tuple[str, IPAddress | None]:
    if raw.startswith("["):
        inner = raw[1:-1]
        if not raw.endswith("]") or "%" in inner:
            raise Refused("an IPv6 host must be a bracketed address without a zone, like [2001:db8::1]")
        try:
            return inner.lower(), ipaddress.IPv6Address(inner)
        except ValueError:
            raise Refused(f"{raw} is not an IPv6 address") from None
    host = raw.lower().rstrip(".")
    labels = host.split(".")
    if not host:
        raise Refused("the URL names no host")
    if all(_NUMERIC_LABEL.fullmatch(label) for label in labels):
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            address = None
        if address is None or str(address) != host:
            raise Refused(f"{raw} is not a dotted-quad IPv4 address (write addresses as 192.0.2.10)")
        return host, address
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise Refused(f"{raw} is not a valid host name (internationalized names go in punycode, xn--...)")
    return host, None


def parse_target(url: str) -> Target:
    """The parts of a webhook URL, or Refused saying what is wrong with it."""
    if len(url) > MAX_URL_LENGTH:
        raise Refused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if not _URL_CHARS.fullmatch(url):
        raise Refused("the URL must be printable ASCII without spaces (percent-encode the rest)")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise Refused("only http:// and https:// URLs can receive webhooks")
    rest = rest.split("#", 1)[0]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, path = rest[:cut], rest[cut:]
    if "@" in authority:
        raise Refused("the URL must not carry credentials (user:password@); the signature authenticates")
    if authority.startswith("["):
        end = authority.find("]")
        raw_host, port_text = (authority[: end + 1], authority[end + 1 :]) if end > 0 else (authority, "")
        if port_text and not port_text.startswith(":"):
            raise Refused(f"{authority} is not a host and port")
        port_text = port_text[1:]
    else:
        raw_host, _, port_text = authority.partition(":")
    if authority.endswith(":") or (port_text and not port_text.isdigit()):
        raise Refused("the port must be a number")
    port = int(port_text) if port_text else SCHEMES[scheme]
    if not 1 <= port <= 65535:
        raise Refused("the port must be between 1 and 65535")
    host, literal = _host(raw_host)
    if not path.startswith("/"):
        path = "/" + path
    return Target(scheme, host, port, path, literal)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if any (where a connection would really go)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible (::a.b.c.d, deprecated)
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def name_refusal(host: str, allow_private: bool) -> str | None:
    """Names that always mean this machine (RFC 6761), refused before any lookup."""
    if not allow_private and (host == "localhost" or host.endswith(".localhost")):
        return f"{host} is this machine (private addresses are not allowed; BOARD3_WEBHOOK_ALLOW_PRIVATE)"
    return None


def address_refusal(address: IPAddress, allow_private: bool) -> str | None:
    """Why Board3 must not connect to ``address``, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return f"{address} has a zone"
        inner = embedded_ipv4(address)
        if inner is not None:
            why = address_refusal(inner, allow_private)
            return f"{address} carries {why}" if why else None
    if address in METADATA:
        return f"{address} is a cloud metadata address"
    if address.is_unspecified or address in _THIS_NETWORK:
        return f"{address} is the unspecified address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if address.is_loopback:
        return None if allow_private else _private(address, "loopback")
    if address.is_reserved or address == ipaddress.IPv4Address("255.255.255.255"):
        return f"{address} is a reserved address"
    if address.is_global:
        return None
    if allow_private:
        return None
    return _private(address, "link-local" if address.is_link_local else "private")


def _private(address: IPAddress, kind: str) -> str:
    return f"{address} is a {kind} address (not allowed unless BOARD3_WEBHOOK_ALLOW_PRIVATE is set)"
