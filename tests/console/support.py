"""A cookie-holding console client for in-process tests: signs in through the form, keeps the
CSRF token of the last page, and posts forms with it like a browser would."""

from __future__ import annotations

import re
from typing import Any

import httpx

_CSRF = re.compile(r'name="_csrf" value="([0-9a-f]+)"')


class ConsoleClient:
    def __init__(self, transport: Any) -> None:
        self.http = httpx.AsyncClient(transport=transport, base_url="http://testserver.local")
        self.csrf: str | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    def _remember(self, response: httpx.Response) -> httpx.Response:
        found = (
            _CSRF.search(response.text)
            if response.headers.get("content-type", "").startswith("text/html")
            else None
        )
        if found:
            self.csrf = found.group(1)
        return response

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return self._remember(await self.http.get(path, **kw))

    async def post(
        self, path: str, data: dict[str, Any] | None = None, csrf: bool = True, **kw: Any
    ) -> httpx.Response:
        form = dict(data or {})
        if csrf and self.csrf:
            form.setdefault("_csrf", self.csrf)
        return self._remember(await self.http.post(path, data=form, **kw))

    async def sign_in(self, email: str, password: str) -> httpx.Response:
        await self.get("/console/sign-in")
        response = await self.post(
            "/console/sign-in", {"email": email, "password": password, "next": "/console"}
        )
        assert response.status_code == 303, response.text
        return response
