"""`board3 migrate` says what it did: on a fresh database every migration is applied and none was
already complete; run again, nothing is applied."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.support.server import BOARD3, ROOT


def _migrate(data_dir: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env |= {"BOARD3_DATA_DIR": str(data_dir), "BOARD3_LOG_LEVEL": "INFO"}
    done = subprocess.run(
        [str(BOARD3), "migrate"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    return [r["msg"] for r in lines if r["logger"] == "board3.migrate"]


def test_the_migration_log_counts_what_it_applied(tmp_path: Path) -> None:
    total = len([p for p in (ROOT / "piccolo_migrations").glob("*.py") if p.name != "__init__.py"])
    first = _migrate(tmp_path / "data")
    assert first[-1] == f"migrate: {total} applied, 0 were already applied"
    assert len([m for m in first if m.startswith("migrate: applied ")]) == total
    assert not any("already complete" in m for m in first)
    assert _migrate(tmp_path / "data") == [f"migrate: 0 applied, {total} were already applied"]
