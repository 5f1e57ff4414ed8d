"""Embedded mode end to end: `scripts/run` on an empty data dir, then again on the same one."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import httpx
import pytest

from tests.support.api import PASSWORD, unique_email
from tests.support.server import ROOT, LiveServer

pytestmark = pytest.mark.slow


def _embedded_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return env | {"BOARD3_DATA_DIR": str(data_dir), "BOARD3_LOG_LEVEL": "INFO"}


def test_scripts_run_twice_on_the_same_data_dir(tmp_path):
    data_dir = tmp_path / "board3-data"
    email = unique_email("embedded")
    with LiveServer(_embedded_env(data_dir), command=[str(ROOT / "scripts" / "run")]) as server:
        ready = httpx.get(server.url + "/health/ready").json()
        assert ready["status"] == "ok"
        assert [c["name"] for c in ready["checks"]][:1] == ["database"]
        r = httpx.post(
            server.url + "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "Emma"}
        )
        assert r.status_code == 201, r.text
        login = httpx.post(server.url + "/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        token = login.json()["access_token"]
        me = httpx.get(server.url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["user"]["email"] == email
        request_id = me.headers["X-Request-ID"]
        deadline = time.monotonic() + 10  # the access line is written just after the response
        while time.monotonic() < deadline:
            # Whole lines only: the server may be writing one as we read.
            log_lines = [line for line in server.output().splitlines(keepends=True) if line.startswith("{")]
            log_lines = [line.rstrip("\n") for line in log_lines if line.endswith("\n")]
            if any(request_id in line and '"/api/v1/auth/me"' in line for line in log_lines):
                break
            time.sleep(0.1)
        sandbox = httpx.get(
            server.url + "/api/v1/sandbox/resources", headers={"Authorization": f"Bearer {token}"}
        )
        assert sandbox.status_code == 200, sandbox.text
        # The databases and their WAL files (while a connection has them open) are owner-only.
        for name in ("board3.sqlite3", "sandbox/store.sqlite3"):
            assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
            for path in data_dir.glob(f"{name}-*"):
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert (data_dir / "board3.sqlite3").exists()
    secret = data_dir / "secrets" / "jwt.key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    first_secret = secret.read_text()
    records = [json.loads(line) for line in log_lines]
    me_lines = [r for r in records if r.get("request_id") == request_id]
    assert me_lines and all(r["level"] for r in me_lines)
    assert any(r.get("path") == "/api/v1/auth/me" and r.get("status") == 200 for r in me_lines)
    assert token not in "\n".join(log_lines) and PASSWORD not in "\n".join(log_lines)

    # Second start reuses the database and the secrets: the same account logs in, old tokens still verify.
    with LiveServer(_embedded_env(data_dir), command=[str(ROOT / "scripts" / "run")]) as server:
        again = httpx.post(server.url + "/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert again.status_code == 200
        me = httpx.get(server.url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
    assert secret.read_text() == first_secret
