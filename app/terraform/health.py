"""The terraform binary as ``/health/ready`` reports it: found, and which version (never fatal:
the API works without terraform; pipelines need it)."""

from __future__ import annotations

import time

from app.lib.health import Check
from app.terraform.runner import TerraformError, find_terraform, terraform_version

_FAILURE_TTL = 60.0
_terraform_failures: dict[str, tuple[float, Check]] = {}


async def terraform_check(binary: str) -> Check:
    """A failure is remembered for a minute so that a broken binary does not slow every probe."""
    failed = _terraform_failures.get(binary)
    if failed is not None and time.monotonic() - failed[0] < _FAILURE_TTL:
        return failed[1]
    try:
        path = find_terraform(binary)
        version = await terraform_version(path)  # cached per binary by the runner
    except (TerraformError, OSError) as exc:
        check = Check(name="terraform", ok=False, detail=str(exc), fatal=False)
        _terraform_failures[binary] = (time.monotonic(), check)
        return check
    return Check(name="terraform", ok=True, detail=f"{path} {version}", fatal=False)
