"""Webhook secrets and signatures. Pure.

``Board3-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...]``: each ``v1`` is
HMAC-SHA256(secret, "<t>." + raw body) under one of the webhook's valid secrets (two while a
rotated secret is in its grace period). Receivers check that one ``v1`` matches and that ``t`` is
recent, which refuses replays (docs/webhooks.md has the code).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"
HEADER = "Board3-Signature"
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def display_prefix(secret: str) -> str:
    """The part of a secret that is safe to show, to tell secrets apart (``whsec_AbCd``)."""
    return secret[: len(SECRET_PREFIX) + 4]


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def header(secrets_: Sequence[str], timestamp: int, body: bytes) -> str:
    """The signature header's value, signed by every secret given (current first)."""
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets_)])


def verify(secret: str, value: str, body: bytes, now: int, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """Whether ``value`` (a signature header) signs ``body`` with ``secret``, recently enough."""
    parts = [p.partition("=") for p in value.split(",")]
    stamps = [v for k, _, v in parts if k.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit() or abs(now - int(stamps[0])) > tolerance:
        return False
    expected = signature(secret, int(stamps[0]), body)
    return any(hmac.compare_digest(expected, v) for k, _, v in parts if k.strip() == "v1")
