"""The console's pure parts: cookie and CSRF tokens, https detection, the single-flight refresh,
status tones, charts, and the vendored htmx."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from litestar.stores.memory import MemoryStore

from app.accounts.schemas import TokenPair
from app.console import charts
from app.console.gate import is_https
from app.console.render import TONES, tone
from app.console.session import CookieTokens, CsrfTokens, Refresher
from app.lib.errors import Unauthorized
from app.lib.gate import MemoryGate

STATIC = Path(__file__).resolve().parents[2] / "app" / "console" / "static"
TEMPLATES = STATIC.parent / "templates"
HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"


def test_cookie_tokens_round_trip_and_refuse_garbage() -> None:
    tokens = CookieTokens("a.b.c", "b3r_xyz")
    assert CookieTokens.decode(tokens.encode()) == tokens
    for bad in (None, "", "no-separator", "a|b|c", "|b3r_x", "a.b.c|", "x" * 5000 + "|y"):
        assert CookieTokens.decode(bad) is None


def test_csrf_tokens_are_bound_to_what_they_were_made_for() -> None:
    csrf = CsrfTokens("secret-" + "x" * 40)
    token = csrf.token("s:session-1")
    assert csrf.valid("s:session-1", token)
    assert not csrf.valid("s:session-2", token)
    assert not csrf.valid("s:session-1", None) and not csrf.valid(None, token)
    assert not CsrfTokens("another-" + "x" * 40).valid("s:session-1", token)


def _auth(public_url: str | None = None, proxies: tuple[str, ...] = ()) -> SimpleNamespace:
    server = SimpleNamespace(public_url=public_url, trusted_proxies=list(proxies))
    return SimpleNamespace(settings=SimpleNamespace(server=server))


def test_cookies_are_secure_behind_https_only() -> None:
    plain = {"scheme": "http", "client": ("10.0.0.5", 1), "headers": [(b"x-forwarded-proto", b"https")]}
    assert not is_https(plain, _auth())  # type: ignore[arg-type]
    assert is_https(plain, _auth(proxies=("10.0.0.0/8",)))  # type: ignore[arg-type]
    assert not is_https(plain, _auth(proxies=("192.168.0.0/16",)))  # type: ignore[arg-type]
    assert is_https({"scheme": "https", "client": ("1.2.3.4", 1), "headers": []}, _auth())  # type: ignore[arg-type]
    assert is_https(plain | {"headers": []}, _auth("https://board3.example.com"))  # type: ignore[arg-type]


class CountingAuth:
    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    async def refresh(self, token: str, client: object) -> TokenPair:
        self.calls += 1
        await asyncio.sleep(0.05)
        if self.fail:
            raise Unauthorized("refresh token is invalid or expired", code="invalid-refresh-token")
        return TokenPair(access_token=f"access-{self.calls}", refresh_token=f"b3r_new-{self.calls}")


async def test_concurrent_refreshes_of_one_token_refresh_once() -> None:
    auth = CountingAuth()
    refresher = Refresher(auth, "secret-" + "x" * 40)  # type: ignore[arg-type]
    store, gate = MemoryStore(), MemoryGate()
    pairs = await asyncio.gather(*(refresher.refresh("b3r_old", None, store, gate) for _ in range(8)))  # type: ignore[arg-type]
    assert auth.calls == 1 and {p.refresh_token for p in pairs} == {"b3r_new-1"}
    # Another process holding the same old token finds the result the first one left (encrypted).
    elsewhere = Refresher(auth, "secret-" + "x" * 40)  # type: ignore[arg-type]
    assert (await elsewhere.refresh("b3r_old", None, store, gate)).refresh_token == "b3r_new-1"  # type: ignore[arg-type]
    assert auth.calls == 1
    raw = [v async for v in _values(store)]
    assert raw and all(b"b3r_new" not in v for v in raw)  # nothing readable in the shared store


async def _values(store: MemoryStore):
    for key in list(store._store):  # looking inside on purpose
        value = await store.get(key)
        if value is not None:
            yield value


async def test_a_failed_refresh_fails_every_waiter() -> None:
    auth = CountingAuth(fail=True)
    refresher = Refresher(auth, "secret-" + "x" * 40)  # type: ignore[arg-type]
    results = await asyncio.gather(
        *(refresher.refresh("b3r_bad", None, MemoryStore(), MemoryGate()) for _ in range(3)),  # type: ignore[arg-type]
        return_exceptions=True,
    )
    assert auth.calls == 1 and all(isinstance(r, Unauthorized) for r in results)


def test_every_status_has_one_tone() -> None:
    from app.pipelines.model import STATUSES

    assert set(STATUSES) <= set(TONES)
    assert tone("applied") == tone("planned_and_finished") == "ok"
    assert tone("errored") == tone("force_canceled") == "bad"
    assert tone("planned") == "attention" and tone("something-new") == "muted"


def test_daily_chart_counts_runs_per_day_and_escapes() -> None:
    today = dt.date(2026, 11, 30)
    at = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)
    rows = [
        {"created_at": at, "status": "applied"},
        {"created_at": at, "status": "errored"},
        {"created_at": at, "status": "discarded"},
        {"created_at": at, "status": "planning"},  # unfinished: not counted
        {"created_at": at - dt.timedelta(days=90), "status": "applied"},  # outside the window
    ]
    days = charts.daily(rows, today, 30)
    assert len(days) == 30 and days[-1].day == today
    assert (days[-2].ok, days[-2].bad, days[-2].muted) == (1, 1, 1)
    assert sum(d.total for d in days) == 3
    svg = str(charts.daily_chart(days))
    assert svg.startswith("<svg") and svg.count('class="bar ok"') == 1 and "style=" not in svg
    assert "<script" not in str(
        charts.duration_chart({"<script>": SimpleNamespace(median_seconds=1.0, p95_seconds=2.0, count=1)})
    )
    assert "100% succeeded" in str(charts.rate_bar(1.0)) and "no finished runs" in str(charts.rate_bar(None))


def test_htmx_is_the_pinned_file_and_pages_load_nothing_from_elsewhere() -> None:
    htmx = STATIC / "vendor" / "htmx-2.0.11.min.js"
    assert hashlib.sha256(htmx.read_bytes()).hexdigest() == HTMX_SHA256
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r'(src|href)="(https?:)?//', text), template
        assert not re.search(r"<script(?![^>]*\ssrc=)", text), template
        assert " style=" not in text, template


@pytest.mark.parametrize("path", ["/console/static/console.css", "/console/static/vendor/htmx-2.0.11.min.js"])
async def test_static_files_are_served_by_board3(client, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 200 and len(r.content) > 1000
