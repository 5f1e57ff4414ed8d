"""Rate limits on signing in that slow an attacker, not the account's owner.

Per minute, as sliding windows (``app.lib.windows``: never more than the limit in any 60 s):

- per client address, every sign-in attempt (``BOARD3_RATE_LIMIT_AUTH_ADDRESS``): one address
  trying many accounts;
- per account and address (``BOARD3_RATE_LIMIT_AUTH``): one address guessing one account's
  password;
- per account, failed logins from anywhere (``BOARD3_RATE_LIMIT_AUTH_ACCOUNT``, much higher): many
  addresses guessing one password. When it is exhausted, only addresses the account has signed in
  from within the last 30 days are still let through (each within its own per-address limits), so
  an owner at their usual address signs in during an attack while new addresses wait.

A limit per account alone (as before) let anyone lock a user out: after 20 wrong passwords the
right one was refused too. Accounts are named in Redis by a hash of the email, never the email.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from app.accounts.tables import Session
from app.config import SecuritySettings
from app.lib.clock import utcnow
from app.lib.errors import TooManyRequests
from app.lib.windows import Windows

WINDOW_SECONDS = 60
KNOWN_ADDRESS_DAYS = 30


def _account(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def _refused(wait: int) -> TooManyRequests:
    return TooManyRequests(
        "too many attempts; try again later", headers={"Retry-After": str(wait)}, extra={"retry_after": wait}
    )


class SignInLimits:
    def __init__(self, windows: Windows, security: SecuritySettings) -> None:
        self._windows = windows
        self._security = security

    async def _take(self, *limits: tuple[str, int]) -> None:
        wait = await self._windows.take(limits, WINDOW_SECONDS)
        if wait:
            raise _refused(wait)

    def _per_address(self, ip: str | None) -> tuple[str, int]:
        return f"signin:ip:{ip}", self._security.rate_limit_auth_address_per_minute

    def _per_account_address(self, email: str, ip: str | None) -> tuple[str, int]:
        return f"signin:acct-ip:{_account(email)}:{ip}", self._security.rate_limit_auth_per_minute

    async def register(self, email: str, ip: str | None) -> None:
        await self._take(self._per_address(ip), self._per_account_address(email, ip))

    async def refresh(self, ip: str | None) -> None:
        # Refresh tokens cannot be guessed; this bounds the work one address can cause.
        key, limit = self._per_address(ip)
        await self._take((f"refresh:{key}", limit))

    async def login(self, email: str, ip: str | None) -> None:
        """Before the password is checked: the per-address windows take the attempt."""
        await self._take(self._per_address(ip), self._per_account_address(email, ip))

    async def account_under_attack(self, email: str) -> int:
        """Seconds until the account's window of failed logins has room again (0: it has)."""
        key = f"signin:acct:{_account(email)}"
        return await self._windows.wait(
            key, self._security.rate_limit_auth_account_per_minute, WINDOW_SECONDS
        )

    async def refuse_unless_known(self, wait: int, user_id: object | None, ip: str | None) -> None:
        """During an attack on the account, only addresses it signed in from recently get in."""
        if wait and (user_id is None or ip is None or not await _known_address(user_id, ip)):
            raise _refused(wait)

    async def failed(self, email: str) -> None:
        await self._windows.add(f"signin:acct:{_account(email)}", WINDOW_SECONDS)


async def _known_address(user_id: object, ip: str) -> bool:
    since = utcnow() - dt.timedelta(days=KNOWN_ADDRESS_DAYS)
    return bool(
        await Session.exists().where(
            (Session.user == user_id) & (Session.ip == ip) & (Session.created_at > since)
        )
    )
