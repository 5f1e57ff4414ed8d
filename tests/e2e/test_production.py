"""Production mode across processes: two `board3 serve` on one PostgreSQL and one Redis."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.support.api import PASSWORD, unique_email

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("BOARD3_TEST_BACKEND", "postgres") != "postgres", reason="needs PostgreSQL and Redis"
    ),
]


def _register(url: str) -> tuple[str, dict]:
    email = unique_email("prod")
    r = httpx.post(url + "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "P"})
    assert r.status_code == 201, r.text
    return email, r.json()


def test_session_revoked_on_one_process_is_refused_by_the_other(live_server):
    a, b = live_server(), live_server()
    _, body = _register(a.url)
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert httpx.get(b.url + "/api/v1/auth/me", headers=headers).status_code == 200
    assert httpx.post(a.url + "/api/v1/auth/logout", headers=headers).status_code == 204
    r = httpx.get(b.url + "/api/v1/auth/me", headers=headers)
    assert r.status_code == 401 and r.json()["detail"] == "session has been revoked"
    # Refresh rotation is shared as well: a refresh token used on A is "reused" on B.
    _, body = _register(b.url)
    assert (
        httpx.post(a.url + "/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}).status_code
        == 200
    )
    assert (
        httpx.post(b.url + "/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}).status_code
        == 401
    )


def test_rate_limits_count_requests_to_both_processes(live_server):
    from tests.conftest import REDIS_PREFIX

    env = {
        "BOARD3_RATE_LIMIT_API": "10",
        "BOARD3_RATE_LIMIT_AUTH": "6",
        "BOARD3_REDIS_PREFIX": f"{REDIS_PREFIX}rl",
    }
    a, b = live_server(**env), live_server(**env)
    email, body = _register(a.url)
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    codes = [httpx.get((a, b)[i % 2].url + "/api/v1/auth/me", headers=headers).status_code for i in range(12)]
    assert codes == [200] * 10 + [429, 429]
    refused = httpx.get(b.url + "/api/v1/auth/me", headers=headers)
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Login attempts: the register above was the first of six allowed per minute from this address.
    attempts = [
        httpx.post(
            (a, b)[i % 2].url + "/api/v1/auth/login", json={"email": email, "password": "wrong password!"}
        )
        for i in range(6)
    ]
    assert [r.status_code for r in attempts] == [401] * 5 + [429]
