"""Receivers for webhook tests: an HTTP receiver on 127.0.0.1 that verifies signatures with the
code docs/webhooks.md gives receivers, and a canary that counts every TCP connection made to it."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def documented_verifier() -> Callable[[str, str, bytes], bool]:
    """``verify_signature`` exactly as docs/webhooks.md shows it to receivers."""
    text = (ROOT / "docs" / "webhooks.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", text, re.DOTALL) if "def verify_signature" in b)
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/webhooks.md", "exec"), namespace)
    return namespace["verify_signature"]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool | None
    status: int


@dataclass
class Receiver:
    """Answers each POST with the next status of ``script`` (then ``then``); ``hang`` seconds
    before answering the requests whose index is in ``hang_on``."""

    script: list[int] = field(default_factory=list)
    then: int = 200
    secret: str | None = None
    hang: float = 0.0
    hang_on: set[int] = field(default_factory=set)
    redirect_to: str | None = None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def successes(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def wait_for(self, count: int, timeout: float = 60, ok: bool = False) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.successes() if ok else list(self.received)
            if len(got) >= count:
                return got
            time.sleep(0.1)
        raise AssertionError(f"receiver got {len(self.received)} requests, wanted {count}: {self.received}")


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    verify = documented_verifier()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                index = len(receiver.received)
                status = receiver.script[index] if index < len(receiver.script) else receiver.then
                if receiver.redirect_to:
                    status = 302
                verified = None
                if receiver.secret is not None:
                    verified = verify(receiver.secret, self.headers.get("Board3-Signature", ""), body)
                held = index in receiver.hang_on  # unanswered: the sender gives up or dies first
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append(Received(self.path, headers, body, verified, 0 if held else status))
            if index in receiver.hang_on:
                time.sleep(receiver.hang)
            self.send_response(status)
            if receiver.redirect_to:
                self.send_header("Location", receiver.redirect_to)
            payload = b"x" * 100_000 if status == 299 else f"answer {status}\x00".encode()
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def canary(host: str = "127.0.0.1") -> Iterator[tuple[int, list[str]]]:
    """A listening socket that records every connection made to it (port, peers)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(16)
    sock.settimeout(0.2)
    peers: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, peer = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            peers.append(str(peer))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], peers
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def loopback_names() -> list[str]:
    """Host names this machine resolves to a loopback address (/etc/hosts), besides ``localhost``."""
    names = []
    try:
        lines = Path("/etc/hosts").read_text().splitlines()
    except OSError:
        return names
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) > 1 and (fields[0].startswith("127.") or fields[0] == "::1"):
            names += [n for n in fields[1:] if n != "localhost" and not n.endswith(".localhost")]
    return list(dict.fromkeys(names))
