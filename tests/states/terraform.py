"""Run the real terraform binary against a Board3 server, in a private working directory laid out,
found and given its environment by app/terraform/runner.py (synchronously, for these tests)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from app.terraform import runner


def backend_block(url: str, org: str, name: str) -> str:
    address = f"{url}/tf/{org}/{name}"
    return f"""
terraform {{
  backend "http" {{
    address        = "{address}"
    lock_address   = "{address}/lock"
    unlock_address = "{address}/lock"
    username       = "terraform"
    retry_max      = 1
  }}
}}
"""


@dataclass
class Workspace:
    """One terraform working directory with its own CLI config and environment."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="board3-tf-")))

    def __post_init__(self) -> None:
        self.layout = runner.Workspace(self.root)  # work/, home/, an empty CLI config, the env
        self.cli_config = self.layout.cli_config
        self.dir = self.layout.work_dir

    def env(self) -> dict[str, str]:
        return dict(self.layout.env)

    def write(self, main_tf: str) -> None:
        (self.dir / "main.tf").write_text(main_tf)

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.layout.binary, *args],
            cwd=self.dir,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"terraform {' '.join(args[:1])} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.layout.binary, *args],
            cwd=self.dir,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def init(self, password: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run("init", "-input=false", "-no-color", f"-backend-config=password={password}", *extra)

    def apply(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("apply", "-auto-approve", "-input=false", "-no-color", *extra, check=check)

    def outputs(self) -> dict:
        return json.loads(self.run("output", "-json").stdout)

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
