"""Run `board3 serve` as a real process on a free loopback port, for tests that need real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BOARD3 = Path(sys.executable).parent / "board3"
# What a server or worker a test starts takes from the test session's environment: its database,
# key prefix, data dir and secret, and the session's limits (so hundreds of registrations from
# 127.0.0.1 in one session are not refused as an attack).
SESSION_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "DATABASE_URL",
    "REDIS_URL",
    "BOARD3_DATA_DIR",
    "BOARD3_JWT_SECRET",
    "BOARD3_REDIS_PREFIX",
    "BOARD3_RATE_LIMIT_AUTH",
    "BOARD3_RATE_LIMIT_AUTH_ADDRESS",
    "BOARD3_RATE_LIMIT_AUTH_ACCOUNT",
    "BOARD3_RATE_LIMIT_API",
)


def session_env() -> dict[str, str]:
    return {k: os.environ[k] for k in SESSION_ENV if k in os.environ}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, env: dict[str, str], command: list[str] | None = None) -> None:
        self.port = free_port()
        self.env = env | {"BOARD3_HOST": "127.0.0.1", "BOARD3_PORT": str(self.port)}
        self.command = command or [str(BOARD3), "serve"]
        self.url = f"http://127.0.0.1:{self.port}"
        fd, name = tempfile.mkstemp(prefix="board3-server-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=5)

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)
