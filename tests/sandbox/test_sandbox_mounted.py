"""The sandbox console is part of the API when BOARD3_SANDBOX is on, behind authentication."""

from __future__ import annotations

import dataclasses

from tests.support.api import assert_problem


async def test_console_routes_need_a_caller(client, api):
    assert_problem(await client.get("/api/v1/sandbox/resources"), 401)
    account = await api.register("sandboxuser")
    r = await client.get("/api/v1/sandbox/resources", headers=account.headers)
    assert r.status_code == 200 and "items" in r.json()


def test_routes_do_not_exist_when_the_sandbox_is_off():
    from app.config import get_settings
    from app.main import create_app

    on = create_app(dataclasses.replace(get_settings(), sandbox_enabled=True))
    off = create_app(dataclasses.replace(get_settings(), sandbox_enabled=False))
    assert any(r.path.startswith("/api/v1/sandbox") for r in on.routes)
    assert not any(r.path.startswith("/api/v1/sandbox") for r in off.routes)
