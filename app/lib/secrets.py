"""Secrets generated once into the data dir (file mode 0600) when not given by configuration."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path


def file_secret(path: Path, generate: Callable[[], str]) -> str:
    """Read the secret at ``path``, creating it atomically (0600) on first use.

    Two processes starting together agree: only one ``O_EXCL`` create wins, the other reads it.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            value = path.read_text().strip()
            if value:
                return value
            time.sleep(0.02)
        raise RuntimeError(f"secret file {path} is empty; delete it to regenerate") from None
    value = generate()
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def jwt_secret(configured: str | None, data_dir: Path) -> str:
    if configured:
        if len(configured) < 32:
            raise ValueError("BOARD3_JWT_SECRET must be at least 32 characters")
        return configured
    return file_secret(data_dir / "secrets" / "jwt.key", lambda: secrets.token_urlsafe(48))
