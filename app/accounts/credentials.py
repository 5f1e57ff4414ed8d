"""Password hashing (argon2id), opaque secrets (refresh tokens, API keys) and JWT access tokens.

Argon2 is deliberately slow, so it runs in a worker thread. Refresh tokens and API keys are
256-bit random secrets; storing their SHA-256 is enough (no brute force is possible) and lets us
look them up by hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token

_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)
_DUMMY_HASH = _hasher.hash("board3-timing-equaliser")

API_KEY_PREFIX = "b3k_"
REFRESH_PREFIX = "b3r_"
JWT_ALGORITHM = "HS256"
JWT_ISSUER = "board3"
JWT_AUDIENCE = "board3-api"


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-ish time: an unknown user still costs one argon2 verification."""

    def _verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(_verify)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def display_prefix(secret: str) -> str:
    """The part of a key that is safe to show in lists (``b3k_AbCdEf12``)."""
    return secret[: len(API_KEY_PREFIX) + 8]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    email: str
    expires_at: dt.datetime


def issue_access_token(
    secret: str, user_id: uuid.UUID, session_id: uuid.UUID, email: str, ttl_seconds: int, now: dt.datetime
) -> tuple[str, int]:
    """A signed token naming the user and session. It carries the email so that authenticating a
    request needs no database query; revoking the session is what ends it early."""
    token = Token(
        sub=str(user_id),
        exp=now + dt.timedelta(seconds=ttl_seconds),
        iat=now,
        iss=JWT_ISSUER,
        aud=JWT_AUDIENCE,
        jti=uuid.uuid4().hex,
        extras={"sid": str(session_id), "email": email},
    )
    return token.encode(secret=secret, algorithm=JWT_ALGORITHM), ttl_seconds


class InvalidToken(Exception):
    """The bearer token is not a valid, unexpired access token of ours."""


def decode_access_token(secret: str, encoded: str) -> AccessClaims:
    """Verify signature (HS256 only: ``alg: none`` and RS/HS confusion fail), expiry, issuer, audience."""
    try:
        token = Token.decode(
            encoded,
            secret=secret,
            algorithm=JWT_ALGORITHM,
            audience=JWT_AUDIENCE,
            issuer=JWT_ISSUER,
            require_claims=["exp", "sub", "iat"],
        )
        sid = token.extras.get("sid")
        return AccessClaims(
            user_id=uuid.UUID(token.sub),
            session_id=uuid.UUID(str(sid)),
            email=str(token.extras.get("email", "")),
            expires_at=token.exp,
        )
    except (NotAuthorizedException, ValueError, TypeError, AttributeError) as exc:
        raise InvalidToken(str(exc)) from None
