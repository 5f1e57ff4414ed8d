"""Installing the provider mirror and CLI config, and the environment terraform gets."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from app.sandbox import PROVIDER_VERSION, STORE_ENV
from app.sandbox.install import (
    PROJECT_ROOT,
    cli_config_text,
    install_mirror,
    terraform_env,
    terraform_platform,
)


def _snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mode, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_install_writes_an_unpacked_mirror_and_a_cli_config(tmp_path: Path) -> None:
    install = install_mirror(tmp_path / "data")
    expected = (
        tmp_path
        / "data/terraform/mirror/board3.local/board3/sandbox"
        / PROVIDER_VERSION
        / terraform_platform()
        / f"terraform-provider-sandbox_v{PROVIDER_VERSION}"
    )
    assert install.launcher == expected
    assert install.launcher.stat().st_mode & stat.S_IXUSR
    launcher = install.launcher.read_text()
    assert launcher.startswith("#!/bin/sh\n")
    assert f"exec {sys.executable} -I -c" in launcher
    assert f'sys.path.insert(0, "{PROJECT_ROOT}")' in launcher
    config = install.cli_config.read_text()
    assert install.cli_config == tmp_path / "data/terraform/terraformrc"
    assert f'path    = "{install.mirror_dir}"' in config
    assert 'include = ["board3.local/*/*"]' in config and 'exclude = ["board3.local/*/*"]' in config
    assert install.store_path == tmp_path / "data/sandbox/store.sqlite3"
    assert install.store_path.parent.is_dir()
    # only the launcher may live in the package dir: terraform hashes the whole directory
    assert [p.name for p in install.launcher.parent.iterdir()] == [install.launcher.name]


def test_install_is_idempotent_byte_for_byte(tmp_path: Path) -> None:
    first = install_mirror(tmp_path)
    before = _snapshot(tmp_path)
    second = install_mirror(tmp_path)
    assert second == first
    assert _snapshot(tmp_path) == before  # same bytes, modes and even mtimes: nothing rewritten


def test_install_repairs_a_modified_launcher(tmp_path: Path) -> None:
    install = install_mirror(tmp_path)
    good = install.launcher.read_bytes()
    install.launcher.write_text("#!/bin/sh\nexit 1\n")
    install.launcher.chmod(0o600)
    install_mirror(tmp_path)
    assert install.launcher.read_bytes() == good
    assert stat.S_IMODE(install.launcher.stat().st_mode) == 0o755


def test_cli_config_escapes_paths_for_hcl() -> None:
    text = cli_config_text(Path('/srv/we"ird/${HOME}'))
    assert r'path    = "/srv/we\"ird/$${HOME}"' in text


def test_terraform_env_points_at_the_install_and_store(tmp_path: Path) -> None:
    env = terraform_env(tmp_path)
    assert env == {
        "TF_CLI_CONFIG_FILE": str(tmp_path.resolve() / "terraform/terraformrc"),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        STORE_ENV: str(tmp_path.resolve() / "sandbox/store.sqlite3"),
    }
    custom = terraform_env(tmp_path, tmp_path / "other.sqlite3")
    assert custom[STORE_ENV] == str((tmp_path / "other.sqlite3").resolve())
    assert all(isinstance(v, str) for v in env.values())
    assert os.path.isabs(env["TF_CLI_CONFIG_FILE"])
