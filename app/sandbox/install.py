"""Install the sandbox provider where ``terraform init`` finds it, with no network.

``install_mirror`` writes a filesystem mirror (unpacked layout) holding a launcher that runs this
project's interpreter on ``app.sandbox.provider``, and a Terraform CLI config file that installs
``board3.local/*/*`` from that mirror only. Files are rewritten only when their bytes would change:
``.terraform.lock.hcl`` files record a hash of the launcher, so it must stay byte-identical.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from app.sandbox import (
    PROVIDER_HOST,
    PROVIDER_NAMESPACE,
    PROVIDER_TYPE,
    PROVIDER_VERSION,
    STORE_ENV,
)
from app.sandbox.store import default_store_path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i686": "386"}


@dataclass(frozen=True)
class SandboxInstall:
    """Where an installation lives under a data dir."""

    data_dir: Path
    mirror_dir: Path
    launcher: Path
    cli_config: Path
    store_path: Path


def terraform_platform() -> str:
    """Terraform's ``<os>_<arch>`` name for this machine (``linux_amd64``)."""
    machine = platform.machine().lower()
    return f"{platform.system().lower()}_{_ARCHES.get(machine, machine)}"


def paths(data_dir: Path) -> SandboxInstall:
    data_dir = Path(data_dir).resolve()
    mirror = data_dir / "terraform" / "mirror"
    package_dir = (
        mirror / PROVIDER_HOST / PROVIDER_NAMESPACE / PROVIDER_TYPE / PROVIDER_VERSION / terraform_platform()
    )
    return SandboxInstall(
        data_dir=data_dir,
        mirror_dir=mirror,
        launcher=package_dir / f"terraform-provider-{PROVIDER_TYPE}_v{PROVIDER_VERSION}",
        cli_config=data_dir / "terraform" / "terraformrc",
        store_path=default_store_path(data_dir),
    )


def launcher_script(python: str, project_root: Path) -> str:
    """A POSIX shell launcher: exec ``python`` (isolated from PYTHON* variables) on the provider."""
    code = (
        f"import sys; sys.path.insert(0, {json.dumps(str(project_root))}); "
        "from app.sandbox.provider import main; main()"
    )
    return (
        "#!/bin/sh\n"
        f"# Board3 sandbox provider {PROVIDER_VERSION}, written by `board3 sandbox install`.\n"
        "# Do not edit: .terraform.lock.hcl files record a hash of this file.\n"
        f'exec {shlex.quote(python)} -I -c {shlex.quote(code)} "$@"\n'
    )


def _hcl_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "$${").replace("%{", "%%{")
    return f'"{escaped}"'


def cli_config_text(mirror_dir: Path) -> str:
    """The Terraform CLI config: board3.local providers from the mirror, everything else as usual."""
    pattern = _hcl_string(f"{PROVIDER_HOST}/*/*")
    return (
        "# Terraform CLI configuration written by `board3 sandbox install`.\n"
        "disable_checkpoint = true\n"
        "\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {_hcl_string(str(mirror_dir))}\n"
        f"    include = [{pattern}]\n"
        "  }\n"
        "  direct {\n"
        f"    exclude = [{pattern}]\n"
        "  }\n"
        "}\n"
    )


def _write_if_changed(path: Path, content: str, mode: int) -> None:
    data = content.encode()
    if path.exists() and path.read_bytes() == data:
        if path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install_mirror(data_dir: Path) -> SandboxInstall:
    """Write (idempotently) the provider mirror and the CLI config under ``data_dir``."""
    install = paths(data_dir)
    _write_if_changed(install.launcher, launcher_script(sys.executable, PROJECT_ROOT), 0o755)
    _write_if_changed(install.cli_config, cli_config_text(install.mirror_dir), 0o644)
    install.store_path.parent.mkdir(parents=True, exist_ok=True)
    return install


def terraform_env(data_dir: Path, store_path: Path | None = None) -> dict[str, str]:
    """Variables a terraform subprocess needs for the sandbox; merge them over a base environment."""
    install = paths(data_dir)
    return {
        "TF_CLI_CONFIG_FILE": str(install.cli_config),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        STORE_ENV: str(Path(store_path).resolve() if store_path else install.store_path),
    }
