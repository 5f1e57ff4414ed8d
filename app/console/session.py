"""The console's hold on an API session: the cookie that carries its tokens, their transparent
refresh, and the CSRF token bound to it.

A console sign-in is an ordinary API session (``AuthService.login``): the access and refresh tokens
travel in one HttpOnly, SameSite=Lax cookie scoped to ``/console`` (Secure behind https), so
revoking the session in the API ends the console too. Refresh tokens rotate and a reused one
revokes the whole session, so a browser that sends several requests with one expired access token
must not refresh twice: ``Refresher`` lets one request per token refresh (in this process, and
across processes through the request gate) and hands the others the same new pair for a short
grace period, encrypted in the shared cache store.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

import msgspec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from litestar.stores.base import Store

from app.accounts.auth_service import AuthService, Client
from app.accounts.schemas import TokenPair
from app.lib.errors import AppError, Unauthorized
from app.lib.gate import RequestGate

log = logging.getLogger("board3.console")

SESSION_COOKIE = "b3_console"
ANON_COOKIE = "b3_console_pre"  # binds the sign-in form's CSRF token before there is a session
FLASH_COOKIE = "b3_console_flash"
COOKIE_PATH = "/console"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "x-csrf-token"
REFRESH_GRACE_SECONDS = 60  # how long other requests holding the old refresh token get the new pair
_WAIT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class CookieTokens:
    access: str
    refresh: str

    def encode(self) -> str:
        return f"{self.access}|{self.refresh}"

    @classmethod
    def decode(cls, value: str | None) -> CookieTokens | None:
        if not value or value.count("|") != 1 or len(value) > 4000:
            return None
        access, refresh = value.split("|")
        return cls(access, refresh) if access and refresh else None


def _derive(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), f"board3-console:{purpose}".encode(), hashlib.sha256).digest()


class CsrfTokens:
    """Tokens that bind a form to the browser's session (or, before sign-in, to a random cookie):
    an HMAC the server recomputes, so nothing is stored and another site cannot produce one."""

    def __init__(self, secret: str) -> None:
        self._key = _derive(secret, "csrf")

    def token(self, binding: str) -> str:
        return hmac.new(self._key, binding.encode(), hashlib.sha256).hexdigest()

    def valid(self, binding: str | None, presented: str | None) -> bool:
        if not binding or not presented:
            return False
        return hmac.compare_digest(self.token(binding), presented)


def new_anonymous_binding() -> str:
    return secrets.token_urlsafe(24)


class Refresher:
    """Single-flight refresh of a console session's tokens.

    In this process one task refreshes a given refresh token and the others await its result;
    across processes the request gate's counter elects one (``hit`` with a limit of 1) and the
    others read the result it leaves, encrypted, in the shared store for ``REFRESH_GRACE_SECONDS``.
    """

    def __init__(self, auth: AuthService, secret: str) -> None:
        self._auth = auth
        self._aead = AESGCM(_derive(secret, "refresh-results"))
        self._flights: dict[str, asyncio.Future[TokenPair]] = {}
        self._recent: OrderedDict[str, tuple[float, TokenPair]] = OrderedDict()

    async def refresh(self, refresh_token: str, client: Client, store: Store, gate: RequestGate) -> TokenPair:
        digest = hashlib.sha256(refresh_token.encode()).hexdigest()
        recent = self._recent.get(digest)
        if recent is not None and recent[0] > time.monotonic():
            return recent[1]
        flight = self._flights.get(digest)
        if flight is not None:
            return await asyncio.shield(flight)
        flight = asyncio.get_running_loop().create_future()
        self._flights[digest] = flight
        try:
            pair = await self._refresh_once(refresh_token, digest, client, store, gate)
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._flights.pop(digest, None)
        flight.set_result(pair)
        self._remember(digest, pair)
        return pair

    def _remember(self, digest: str, pair: TokenPair) -> None:
        self._recent[digest] = (time.monotonic() + REFRESH_GRACE_SECONDS, pair)
        now = time.monotonic()
        while self._recent and (len(self._recent) > 10_000 or next(iter(self._recent.values()))[0] <= now):
            self._recent.popitem(last=False)

    async def _refresh_once(
        self, refresh_token: str, digest: str, client: Client, store: Store, gate: RequestGate
    ) -> TokenPair:
        key = f"console-refresh:{digest}"
        shared = await self._read(store, key, digest)
        if shared is not None:
            return shared
        claim = await gate.hit(key, 1, REFRESH_GRACE_SECONDS)
        if not claim.allowed:  # another process refreshes this token: wait for what it leaves
            deadline = time.monotonic() + _WAIT_SECONDS
            while time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                shared = await self._read(store, key, digest)
                if shared is not None:
                    return shared
            raise Unauthorized(
                "the session could not be refreshed; sign in again", code="invalid-refresh-token"
            )
        pair = await self._auth.refresh(refresh_token, client)
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, msgspec.json.encode(pair), digest.encode())
        try:
            await store.set(key, base64.b64encode(sealed), expires_in=REFRESH_GRACE_SECONDS)
        except Exception as exc:  # other processes then ask the user to sign in again, no worse
            log.warning("could not share a refreshed console session: %s", exc)
        return pair

    async def _read(self, store: Store, key: str, digest: str) -> TokenPair | None:
        try:
            raw = await store.get(key)
        except Exception as exc:
            log.warning("could not read a refreshed console session: %s", exc)
            return None
        if raw is None:
            return None
        try:
            sealed = base64.b64decode(raw)
            plain = self._aead.decrypt(sealed[:12], sealed[12:], digest.encode())
            return msgspec.json.decode(plain, type=TokenPair)
        except Exception:
            return None


def is_refreshable(exc: AppError) -> bool:
    """An expired (or garbled) access token is worth a refresh; a revoked session is not."""
    return isinstance(exc, Unauthorized) and exc.code == "invalid-token"
