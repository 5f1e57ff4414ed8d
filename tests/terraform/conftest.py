"""Fixtures for the Terraform domain: the seed catalog and a private environment for terraform."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from app.terraform.catalog import Catalog, load_catalog

# A variable, a VPC tagged with it and a subnet referring to the VPC: the start of the import samples.
NETWORK_TF = """
variable "env" {
  type    = string
  default = "dev"
}

resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
  tags = {
    Name = "main-${var.env}"
  }
}

resource "aws_subnet" "a" {
  vpc_id     = aws_vpc.main.id
  cidr_block = cidrsubnet(aws_vpc.main.cidr_block, 8, 1)
}
"""


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(None)


def terraform_env(tmp: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for terraform: no checkpoint, automation mode, our own (empty) CLI config."""
    config = tmp / "terraformrc"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env.update(
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
        TF_CLI_CONFIG_FILE=str(config),
        TF_PLUGIN_CACHE_DIR="",
    )
    env.pop("TF_PLUGIN_CACHE_DIR")
    env.update(extra or {})
    return env


def run_terraform(workdir: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = os.environ.get("TERRAFORM_BIN", "terraform")
    return subprocess.run(
        [binary, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def write_files(directory: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.fixture
def terraform_bin() -> str:
    binary = os.environ.get("TERRAFORM_BIN", "terraform")
    if shutil.which(binary) is None:
        pytest.skip("terraform binary not found")
    return binary
