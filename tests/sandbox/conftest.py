"""Fixtures for the sandbox cloud: a private data dir with the provider installed, and a terraform
runner with its own environment (own CLI config, no checkpoint, private working directory)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.config import reset_settings
from app.sandbox import PROVIDER_SOURCE, PROVIDER_VERSION, STORE_ENV
from app.sandbox.install import SandboxInstall, install_mirror
from app.sandbox.store import SandboxStore
from app.terraform.runner import build_env
from tests.sandbox.terraform_helpers import TERRAFORM, Terraform, TerraformFactory


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


@pytest.fixture
def terraform_factory(sandbox: SandboxInstall, tmp_path: Path, provider_home: Path) -> TerraformFactory:
    """``make(name)``: a Terraform in its own private working dir ``tmp_path/name``, sharing the store."""
    if TERRAFORM is None:
        pytest.skip("terraform binary not on PATH")

    def make(name: str) -> Terraform:
        workdir = tmp_path / name
        workdir.mkdir(mode=0o700)
        env = build_env(
            home=provider_home,
            cli_config=sandbox.cli_config,  # the mirror's, written by install_mirror
            extra={"LANG": "C.UTF-8", STORE_ENV: str(sandbox.store_path)},
        )
        return Terraform(workdir=workdir, env=env)

    return make


@pytest.fixture
def terraform(terraform_factory: TerraformFactory) -> Terraform:
    return terraform_factory("work")


@pytest.fixture
def required_providers() -> dict[str, Any]:
    """The ``terraform`` block every configuration needs to use the sandbox provider."""
    return {"required_providers": {"sandbox": {"source": PROVIDER_SOURCE, "version": PROVIDER_VERSION}}}
