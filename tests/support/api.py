"""A small client-side helper for API tests: accounts, tokens, problem assertions."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

PASSWORD = "correct horse battery staple"
_counter = itertools.count()


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


@dataclass
class Account:
    email: str
    password: str
    user_id: str
    org_slug: str
    org_id: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access_token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status (and, if given, an error for ``field``)."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://board3.dev/problems/")
    assert body["title"] and body["detail"]
    if field is not None:
        fields = [e["field"] for e in body.get("errors", [])]
        assert field in fields, (field, body)
    return body


class Api:
    def __init__(self, client: Any) -> None:
        self.client = client

    async def register(self, tag: str = "user", organization: str | None = None) -> Account:
        email = unique_email(tag)
        org = organization or f"{tag} org {uuid.uuid4().hex[:8]}"
        r = await self.client.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "name": tag.title(), "organization": org},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        return Account(
            email=email,
            password=PASSWORD,
            user_id=body["user"]["id"],
            org_slug=body["organization"]["slug"],
            org_id=body["organization"]["id"],
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
        )

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        r = await self.client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return r.json()

    async def add_member(self, owner: Account, member: Account, role: str) -> None:
        r = await self.client.post(
            f"/api/v1/orgs/{owner.org_slug}/members",
            json={"email": member.email, "role": role},
            headers=owner.headers,
        )
        assert r.status_code == 201, r.text

    async def api_key(self, account: Account, scopes: list[str] | None = None, org: str | None = None) -> str:
        body: dict[str, Any] = {"name": f"key-{next(_counter)}"}
        if scopes is not None:
            body["scopes"] = scopes
        r = await self.client.post(
            f"/api/v1/orgs/{org or account.org_slug}/api-keys", json=body, headers=account.headers
        )
        assert r.status_code == 201, r.text
        return str(r.json()["key"])
