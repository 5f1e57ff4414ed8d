"""Fixtures for state tests: an organization with read, write and admin API keys."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.states.support import basic
from tests.support.api import Account


@dataclass
class Keys:
    account: Account
    read: str
    write: str
    admin: str

    @property
    def org(self) -> str:
        return self.account.org_slug

    def headers(self, which: str = "write") -> dict[str, str]:
        return basic(getattr(self, which))


@pytest.fixture
async def keys(api) -> Keys:
    account = await api.register("tf")
    read = await api.api_key(account, scopes=["state:read"])
    write = await api.api_key(account, scopes=["state:read", "state:write"])
    admin = await api.api_key(account, scopes=["state:read", "state:write", "state:admin", "audit:read"])
    return Keys(account, read, write, admin)
