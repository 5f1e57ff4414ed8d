"""Settings read from the environment: BOARD3_PUBLIC_URL, the default data dir."""

from __future__ import annotations

import pytest

from app import config
from app.config import ConfigError, load_settings


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("BOARD3_DATA_DIR", str(tmp_path))
    return monkeypatch


def test_public_url_is_unset_by_default(env):
    env.delenv("BOARD3_PUBLIC_URL", raising=False)
    assert load_settings().server.public_url is None
    env.setenv("BOARD3_PUBLIC_URL", "  ")
    assert load_settings().server.public_url is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://board3.example.com", "https://board3.example.com"),
        ("https://board3.example.com/", "https://board3.example.com"),
        ("http://10.0.0.5:8080/board3/", "http://10.0.0.5:8080/board3"),
        ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
        (" http://localhost:8000 ", "http://localhost:8000"),
    ],
)
def test_public_url_accepts_http_and_https_base_urls(env, value, expected):
    env.setenv("BOARD3_PUBLIC_URL", value)
    assert load_settings().server.public_url == expected


@pytest.mark.parametrize(
    "value",
    [
        "board3.example.com",
        "ftp://board3.example.com",
        "https://",
        "https://user:secret@board3.example.com",
        "https://board3.example.com?x=1",
        "https://board3.example.com/#top",
        "https://board3.example.com:0",
        "https://board3.example.com:70000",
        "https://board3.example.com:",
        "https://bad host",
        'https://board3.example.com/"quoted"',
    ],
)
def test_a_bad_public_url_is_a_config_error_naming_the_variable(env, value):
    env.setenv("BOARD3_PUBLIC_URL", value)
    with pytest.raises(ConfigError, match="BOARD3_PUBLIC_URL"):
        load_settings()


def test_the_default_data_dir_is_the_checkouts_whatever_the_current_directory(monkeypatch, tmp_path):
    """A server started by scripts/run and a CLI started elsewhere must share one database and store."""
    monkeypatch.delenv("BOARD3_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.data_dir == config.PROJECT_ROOT / ".board3"
    assert settings.database.sqlite_path == config.PROJECT_ROOT / ".board3" / "board3.sqlite3"
    monkeypatch.setenv("BOARD3_DATA_DIR", "relative-dir")
    assert load_settings().data_dir == tmp_path / "relative-dir"  # a value given is the caller's


def test_without_a_checkout_the_default_data_dir_is_the_current_directorys(monkeypatch, tmp_path):
    monkeypatch.delenv("BOARD3_DATA_DIR", raising=False)
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path / "site-packages")
    monkeypatch.chdir(tmp_path)
    assert load_settings().data_dir == tmp_path / ".board3"


def test_bodies_in_flight_must_hold_the_largest_allowed_body(env):
    env.setenv("BOARD3_MAX_STATE_BYTES", str(8 * 1024 * 1024))
    env.setenv("BOARD3_MAX_INFLIGHT_BODY_BYTES", str(4 * 1024 * 1024))
    with pytest.raises(ConfigError, match="BOARD3_MAX_INFLIGHT_BODY_BYTES"):
        load_settings()
    env.setenv("BOARD3_MAX_INFLIGHT_BODY_BYTES", str(8 * 1024 * 1024))
    assert load_settings().limits.max_inflight_body_bytes == 8 * 1024 * 1024
    env.delenv("BOARD3_MAX_INFLIGHT_BODY_BYTES")
    env.delenv("BOARD3_MAX_STATE_BYTES")
    assert load_settings().limits.max_inflight_body_bytes == 256 * 1024 * 1024
