"""Playwright driving Debian's Chromium (the browser Playwright would download is not reachable
here): find it, or say why the browser tests are skipped; screenshots of failures."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts" / "console"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """``BOARD3_CHROMIUM``, else Debian's ``/usr/bin/chromium``, else ``chromium`` on PATH."""
    for candidate in (os.environ.get("BOARD3_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium, or a skip that says what is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need Playwright (pip install -e '.[dev]'; scripts/test does it)")
    path = chromium_path()
    if path is None:
        pytest.skip(
            "browser tests need Chromium: apt-get install -y chromium (scripts/test installs it where "
            "apt-get works), or set BOARD3_CHROMIUM to a Chromium binary"
        )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def screenshot_on_failure(page: Any, name: str) -> Iterator[None]:
    """Keep a full-page screenshot and the HTML of the page when the block fails."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            (ARTIFACTS / f"{name}.html").write_text(page.content())
            print(f"screenshot of the failure: {ARTIFACTS / f'{name}.png'}")
        except Exception as exc:  # the browser itself may be what failed
            print(f"could not take a screenshot: {exc}")
        raise


def snap(page: Any, name: str) -> None:
    """With ``BOARD3_CONSOLE_SCREENSHOTS=1``, keep a screenshot of this step (to look at the pages)."""
    if os.environ.get("BOARD3_CONSOLE_SCREENSHOTS"):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"step-{name}.png"), full_page=True)
