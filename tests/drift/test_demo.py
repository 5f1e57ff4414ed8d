"""The offline demo, as a newcomer runs it: ``scripts/demo`` with no Board3 running."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile

import httpx
import pytest

from tests.support.server import ROOT, free_port

pytestmark = pytest.mark.slow


def test_the_demo_runs_the_drift_loop_on_an_embedded_board3_and_stops_it() -> None:
    port = free_port()  # nothing serves there: the demo starts its own Board3
    with tempfile.TemporaryDirectory(prefix="board3-demo-") as data_dir:
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ} | {
            "BOARD3_DATA_DIR": data_dir,
            "BOARD3_PORT": str(port),
        }
        done = subprocess.run(
            [str(ROOT / "scripts" / "demo")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        out = done.stdout + done.stderr
        assert done.returncode == 0, out
    assert "starting an embedded one" in out
    assert "execution #1 applied: 5 resources created" in out
    assert "sandbox_load_balancer.site (node lb): listener_port 443 -> 8443, will be reverted" in out
    assert "node lb: listener_port 443 -> 8443" in out and "design version 3" in out
    assert "No changes" in out
    assert re.search(r"look: GET http://127\.0\.0\.1:\d+/api/v1/drift-checks/[0-9a-f-]{36}", out)
    seconds = float(re.findall(r"Done in ([\d.]+) s", out)[-1])
    assert seconds < 180, out  # about 20 s on an idle machine; the target is under a minute
    server = re.search(r"Board3 serving at (http://127\.0\.0\.1:\d+)", out)
    assert server is not None
    with pytest.raises(httpx.HTTPError):  # the server it started is gone
        httpx.get(server.group(1) + "/health/live", timeout=2)
