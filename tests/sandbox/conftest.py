"""Fixtures for the sandbox cloud: a private data dir with the provider installed, and a terraform
runner with its own environment (own CLI config, no checkpoint, private working directory)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.config import reset_settings
from app.sandbox import PROVIDER_SOURCE, PROVIDER_VERSION
from app.sandbox.install import SandboxInstall, install_mirror, terraform_env
from app.sandbox.store import SandboxStore

TERRAFORM = shutil.which("terraform")


@pytest.fixture(scope="session")
def provider_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HOME for provider processes: the tf framework caches its TLS certificate under ~/.cache."""
    return tmp_path_factory.mktemp("provider-home")


@pytest.fixture
def sandbox(tmp_path: Path) -> SandboxInstall:
    return install_mirror(tmp_path / "data")


@pytest.fixture
def store(sandbox: SandboxInstall) -> Iterator[SandboxStore]:
    s = SandboxStore(sandbox.store_path)
    yield s
    s.close()


@pytest.fixture
def board3_env(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxInstall) -> Iterator[SandboxInstall]:
    """Point app settings (CLI, controller) at the test's data dir."""
    monkeypatch.setenv("BOARD3_DATA_DIR", str(sandbox.data_dir))
    monkeypatch.delenv("BOARD3_SANDBOX_STORE", raising=False)
    reset_settings()
    yield sandbox
    reset_settings()


@dataclass
class Terraform:
    """Runs the real terraform binary in ``workdir`` with an environment built from scratch."""

    workdir: Path
    env: dict[str, str]
    log: list[str] = field(default_factory=list)

    def write(self, config: dict[str, Any] | str, name: str = "main.tf.json") -> None:
        text = config if isinstance(config, str) else json.dumps(config, indent=2)
        (self.workdir / name).write_text(text)

    def run(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        assert TERRAFORM is not None
        proc = subprocess.run(
            [TERRAFORM, *args],
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


@pytest.fixture
def terraform_factory(sandbox: SandboxInstall, tmp_path: Path, provider_home: Path) -> TerraformFactory:
    """``make(name)``: a Terraform in its own private working dir ``tmp_path/name``, sharing the store."""
    if TERRAFORM is None:
        pytest.skip("terraform binary not on PATH")

    def make(name: str) -> Terraform:
        workdir = tmp_path / name
        workdir.mkdir(mode=0o700)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(provider_home),
            "LANG": "C.UTF-8",
            **terraform_env(sandbox.data_dir),
        }
        return Terraform(workdir=workdir, env=env)

    return make


@pytest.fixture
def terraform(terraform_factory: TerraformFactory) -> Terraform:
    return terraform_factory("work")


@pytest.fixture
def required_providers() -> dict[str, Any]:
    """The ``terraform`` block every configuration needs to use the sandbox provider."""
    return {"required_providers": {"sandbox": {"source": PROVIDER_SOURCE, "version": PROVIDER_VERSION}}}
