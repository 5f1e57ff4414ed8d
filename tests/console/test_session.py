"""Console sessions are API sessions: sign-in, the cookie, transparent refresh, revocation,
sign-out, CSRF on every form and the security headers of every page."""

from __future__ import annotations

import asyncio
import re

from app.console.session import SESSION_COOKIE
from tests.support.api import PASSWORD, bearer


def _set_cookie(response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(name + "="):
            return header
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


async def test_pages_need_a_session_and_sign_in_returns_to_them(api, browser) -> None:
    account = await api.register("con-signin")
    b = browser()
    wanted = f"/console/orgs/{account.org_slug}/designs?q=net"
    r = await b.get(wanted)
    assert r.status_code == 303
    assert (
        r.headers["location"]
        == "/console/sign-in?next=%2Fconsole%2Forgs%2F" + account.org_slug + "%2Fdesigns%3Fq%3Dnet"
    )
    page = await b.get(r.headers["location"])
    assert page.status_code == 200 and 'name="password"' in page.text
    r = await b.post("/console/sign-in", {"email": account.email, "password": PASSWORD, "next": wanted})
    assert r.status_code == 303 and r.headers["location"] == wanted
    listing = await b.get(wanted)
    assert listing.status_code == 200 and "Designs" in listing.text


async def test_wrong_password_is_refused_with_the_form_again(api, browser) -> None:
    account = await api.register("con-wrong")
    b = browser()
    await b.get("/console/sign-in")
    r = await b.post("/console/sign-in", {"email": account.email, "password": "not the password"})
    assert r.status_code == 401
    assert "invalid email or password" in r.text and account.email in r.text
    assert SESSION_COOKIE not in b.http.cookies


async def test_open_redirects_are_refused(api, browser) -> None:
    account = await api.register("con-next")
    b = browser()
    await b.get("/console/sign-in")
    r = await b.post(
        "/console/sign-in", {"email": account.email, "password": PASSWORD, "next": "//evil.example/x"}
    )
    assert r.headers["location"] == "/console"


async def test_the_session_cookie_is_httponly_samesite_and_scoped_to_the_console(api, browser) -> None:
    account = await api.register("con-cookie")
    b = browser()
    r = await b.sign_in(account.email, PASSWORD)
    cookie = _set_cookie(r, SESSION_COOKIE).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/console" in cookie
    assert "secure" not in cookie  # plain http here; https requests get Secure (test_gate.py)
    # The cookie holds a session of the API: the API lists it.
    access, _, _ = b.http.cookies[SESSION_COOKIE].partition("|")
    sessions = await api.client.get("/api/v1/auth/sessions", headers=bearer(access))
    assert sessions.status_code == 200 and any(s["current"] for s in sessions.json())


async def test_a_form_without_the_csrf_token_is_refused(api, browser) -> None:
    account = await api.register("con-csrf")
    b = browser()
    await b.sign_in(account.email, PASSWORD)
    await b.get(f"/console/orgs/{account.org_slug}/api-keys")
    for token in (None, "0" * 64):
        data = {"name": "sneaky"} | ({"_csrf": token} if token else {})
        r = await b.post(f"/console/orgs/{account.org_slug}/api-keys", data, csrf=False)
        assert r.status_code == 403, r.text
        assert "text/html" in r.headers["content-type"] and "reload the page" in r.text
        assert "script-src 'self'" in r.headers["content-security-policy"]  # error pages too
    keys = await api.client.get(f"/api/v1/orgs/{account.org_slug}/api-keys", headers=account.headers)
    assert [k["name"] for k in keys.json()] == []
    # The token of another session does not work either: tokens are bound to the session.
    other = browser()
    await other.sign_in(account.email, PASSWORD)
    await other.get(f"/console/orgs/{account.org_slug}/api-keys")
    r = await b.post(
        f"/console/orgs/{account.org_slug}/api-keys", {"name": "x", "_csrf": other.csrf}, csrf=False
    )
    assert r.status_code == 403
    # The sign-in form is protected too (login CSRF).
    fresh = browser()
    r = await fresh.post("/console/sign-in", {"email": account.email, "password": PASSWORD}, csrf=False)
    assert r.status_code == 403


async def test_htmx_requests_carry_the_token_in_a_header(api, browser) -> None:
    account = await api.register("con-hx")
    b = browser()
    await b.sign_in(account.email, PASSWORD)
    page = await b.get(f"/console/orgs/{account.org_slug}/api-keys")
    assert f'"X-CSRF-Token": "{b.csrf}"' in page.text
    r = await b.http.post(
        f"/console/orgs/{account.org_slug}/api-keys",
        data={"name": "by-header"},
        headers={"X-CSRF-Token": b.csrf or "", "HX-Request": "true"},
    )
    assert r.status_code == 200 and "by-header" in r.text


async def test_pages_carry_a_strict_content_security_policy_and_no_inline_script(api, browser) -> None:
    account = await api.register("con-csp")
    b = browser()
    await b.sign_in(account.email, PASSWORD)
    for path in ("designs", "pipelines", "states", "members", "api-keys", "audit", "analytics"):
        r = await b.get(f"/console/orgs/{account.org_slug}/{path}")
        assert r.status_code == 200, (path, r.text[:500])
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
        assert "no-store" in r.headers["cache-control"]
        assert not re.search(r"<script(?![^>]*\ssrc=)", r.text), path  # every script is a file
        assert not re.search(r"\sstyle=|\son[a-z]+=", r.text), path  # no inline styles or handlers
        assert not re.search(r'(src|href)="(https?:)?//', r.text), path  # nothing from elsewhere


async def test_revoking_the_session_in_the_api_ends_the_console(api, browser) -> None:
    account = await api.register("con-revoke")
    b = browser()
    await b.sign_in(account.email, PASSWORD)
    assert (await b.get(f"/console/orgs/{account.org_slug}/designs")).status_code == 200
    sessions = (await api.client.get("/api/v1/auth/sessions", headers=account.headers)).json()
    console_session = next(s for s in sessions if not s["current"])
    r = await api.client.delete(f"/api/v1/auth/sessions/{console_session['id']}", headers=account.headers)
    assert r.status_code == 204
    r = await b.get(f"/console/orgs/{account.org_slug}/designs")
    assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in")
    signin = await b.get(r.headers["location"])
    assert "Your session has ended" in signin.text
    assert SESSION_COOKIE not in b.http.cookies


async def test_an_expired_access_token_is_refreshed_once_for_concurrent_requests(api, browser) -> None:
    account = await api.register("con-refresh")
    b = browser()
    await b.sign_in(account.email, PASSWORD)
    _, _, refresh = b.http.cookies[SESSION_COOKIE].partition("|")
    # An access token that no longer verifies (as an expired one): the refresh token renews it.
    stale = f"expired.token.value|{refresh}"
    url = f"/console/orgs/{account.org_slug}/designs"
    b.http.cookies.clear()
    stale_cookie = {"Cookie": f"{SESSION_COOKIE}={stale}"}
    results = await asyncio.gather(*(b.http.get(url, headers=stale_cookie) for _ in range(6)))
    assert [r.status_code for r in results] == [200] * 6, [r.text[:200] for r in results]
    renewed = {_set_cookie(r, SESSION_COOKIE).split(";")[0] for r in results}
    assert len(renewed) == 1  # one refresh; everyone got the same new pair
    new_access, _, new_refresh = renewed.pop().split("=", 1)[1].partition("|")
    assert new_refresh != refresh
    # The session survived (a second rotation of one token would have revoked it).
    me = await api.client.get("/api/v1/auth/me", headers=bearer(new_access))
    assert me.status_code == 200


async def test_signing_out_revokes_the_session(api, browser) -> None:
    account = await api.register("con-out")
    b = browser()
    await b.sign_in(account.email, PASSWORD)
    await b.get(f"/console/orgs/{account.org_slug}/designs")
    access, _, _ = b.http.cookies[SESSION_COOKIE].partition("|")
    old_cookie = b.http.cookies[SESSION_COOKIE]
    r = await b.post("/console/sign-out")
    assert r.status_code == 303 and r.headers["location"] == "/console/sign-in"
    assert "max-age=0" in _set_cookie(r, SESSION_COOKIE).lower()
    assert (await api.client.get("/api/v1/auth/me", headers=bearer(access))).status_code == 401
    b.http.cookies.clear()
    replay = await b.http.get(
        f"/console/orgs/{account.org_slug}/designs", headers={"Cookie": f"{SESSION_COOKIE}={old_cookie}"}
    )
    assert replay.status_code == 303
