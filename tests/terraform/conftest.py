"""Fixtures for the Terraform domain: the seed catalog and a private environment for terraform."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.terraform.catalog import Catalog, load_catalog
from app.terraform.runner import TerraformNotFound, build_env, find_terraform

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
    """The runner's environment for terraform, with our own (empty) CLI config and HOME in ``tmp``."""
    config = tmp / "terraformrc"
    config.write_text("")
    return build_env(home=tmp, cli_config=config, extra=extra)


def run_terraform(workdir: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [find_terraform(), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
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
    try:
        return find_terraform()
    except TerraformNotFound as exc:
        pytest.skip(str(exc))
