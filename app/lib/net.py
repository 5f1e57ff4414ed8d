"""Client address of a connection, honouring X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any


def client_ip(scope: Any, trusted_proxies: Sequence[str]) -> str | None:
    client = scope.get("client")
    peer = client[0] if client else None
    if not peer or not trusted_proxies or not _trusted(peer, trusted_proxies):
        return peer
    for key, value in scope.get("headers", []):
        if key == b"x-forwarded-for":
            hops = [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
            for hop in reversed(hops):
                if not _trusted(hop, trusted_proxies):
                    return hop
    return peer


def _trusted(addr: str, trusted: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    for entry in trusted:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False
