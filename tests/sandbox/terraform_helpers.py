"""A terraform runner for tests: the real binary, its own environment, a private working dir; the
binary and the environment come from app/terraform/runner.py."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.terraform.runner import TerraformNotFound, find_terraform


def _terraform() -> str | None:
    try:
        return find_terraform()
    except TerraformNotFound:
        return None


TERRAFORM = _terraform()


@dataclass
class Terraform:
    """Runs the real terraform binary in ``workdir`` with an environment built from scratch."""

    workdir: Path
    env: dict[str, str]
    log: list[str] = field(default_factory=list)
    binary: str = field(default_factory=lambda: TERRAFORM or "terraform")

    def write(self, config: dict[str, Any] | str, name: str = "main.tf.json") -> None:
        text = config if isinstance(config, str) else json.dumps(config, indent=2)
        (self.workdir / name).write_text(text)

    def run(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.binary, *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.log.append(f"$ terraform {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        if check and proc.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def json_lines(self, *args: str, check: bool = True) -> list[dict[str, Any]]:
        proc = self.run(*args, "-json", check=check)
        return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]

    def init(self) -> None:
        self.run("init", "-input=false", "-no-color")

    def apply(self, *extra: str) -> None:
        self.run("apply", "-auto-approve", "-input=false", "-no-color", *extra)

    def state(self) -> dict[str, dict[str, Any]]:
        """Resource address -> attribute values, from ``terraform show -json``."""
        shown = json.loads(self.run("show", "-json", "-no-color").stdout)
        resources = shown.get("values", {}).get("root_module", {}).get("resources", [])
        return {r["address"]: r["values"] for r in resources}

    def planned_actions(self, *extra: str) -> dict[str, list[str]]:
        """Address -> actions of a plan (no-op entries left out)."""
        self.run("plan", "-input=false", "-no-color", "-out=plan.bin", *extra)
        shown = json.loads(self.run("show", "-json", "plan.bin").stdout)
        return {
            c["address"]: c["change"]["actions"]
            for c in shown.get("resource_changes", [])
            if c["change"]["actions"] not in (["no-op"], ["read"])
        }


TerraformFactory = Callable[[str], Terraform]
