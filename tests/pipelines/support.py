"""Designs and a running Board3 (server and workers, real processes) for the pipeline tests."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.api import PASSWORD, unique_email
from tests.support.server import BOARD3, ROOT, LiveServer

FINISHED = {"applied", "planned_and_finished", "discarded", "errored", "canceled", "force_canceled"}


def sandbox_canvas(
    *, instances: int = 0, boot_seconds: int = 0, subnet_cidr: str = "10.0.1.0/24", tag: str = "v1"
) -> dict:
    """A sandbox network with a subnet (and ``instances`` instances that take ``boot_seconds`` to
    create); ``subnet_cidr`` outside 10.0.0.0/16 makes the apply fail (the cloud refuses it)."""
    nodes: list[dict[str, Any]] = [
        {
            "id": "net",
            "type": "sandbox_network",
            "name": "main",
            "properties": {"cidr_block": "10.0.0.0/16", "tags": {"v": tag}},
        },
        {
            "id": "sub",
            "type": "sandbox_subnet",
            "name": "web",
            "properties": {"cidr_block": subnet_cidr},
            "parent": "net",
        },
    ]
    edges = [{"source": "sub", "target": "net"}]
    if instances:
        nodes.append(
            {
                "id": "img",
                "type": "data.sandbox_image",
                "name": "ubuntu",
                "properties": {"name": "ubuntu-24.04"},
            }
        )
    for i in range(instances):
        nodes.append(
            {
                "id": f"vm{i}",
                "type": "sandbox_instance",
                "name": f"vm{i}",
                "properties": {"size": "small", "boot_seconds": boot_seconds},
                "parent": "sub",
            }
        )
        edges += [{"source": f"vm{i}", "target": "sub"}, {"source": f"vm{i}", "target": "img"}]
    return {"nodes": nodes, "edges": edges}


def data_canvas(n: int = 2, tag: str = "v1") -> dict:
    """``terraform_data`` only: no provider to launch, the fastest real terraform run."""
    return {
        "nodes": [
            {"id": f"d{i}", "type": "terraform_data", "name": f"d{i}", "properties": {"input": f"{tag}-{i}"}}
            for i in range(n)
        ],
        "edges": [],
    }


@dataclass
class Client:
    """A signed-in user of a running server, with the calls the tests make."""

    url: str
    token: str
    org: str
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )

    def ok(self, method: str, path: str, expect: int = 200, **kw: Any) -> Any:
        r = self.http.request(method, path, **kw)
        assert r.status_code == expect, (method, path, r.status_code, r.text)
        return (
            r.json() if r.content and r.headers.get("content-type", "").startswith("application/json") else r
        )

    def design(self, canvas: dict) -> str:
        body = {"name": f"d-{uuid.uuid4().hex[:8]}", "canvas": canvas}
        return str(self.ok("POST", f"/api/v1/orgs/{self.org}/designs", 201, json=body)["id"])

    def save(self, design_id: str, canvas: dict) -> int:
        current = self.ok("GET", f"/api/v1/designs/{design_id}")["current_version"]
        body = {"canvas": canvas, "base_version": current}
        return int(self.ok("POST", f"/api/v1/designs/{design_id}/versions", 201, json=body)["number"])

    def pipeline(self, design_id: str, environment: str = "dev", **options: Any) -> dict:
        return dict(
            self.ok(
                "POST",
                f"/api/v1/designs/{design_id}/pipelines",
                201,
                json={"environment": environment, **options},
            )
        )

    def start(self, pipeline_id: str, operation: str = "apply", **extra: Any) -> dict:
        body = {"operation": operation, **extra}
        return dict(self.ok("POST", f"/api/v1/pipelines/{pipeline_id}/executions", 202, json=body))

    def execution(self, execution_id: str) -> dict:
        return dict(self.ok("GET", f"/api/v1/executions/{execution_id}"))

    def wait(self, execution_id: str, statuses: set[str] | str, timeout: float = 120) -> dict:
        wanted = {statuses} if isinstance(statuses, str) else statuses
        deadline = time.monotonic() + timeout
        while True:
            ex = self.execution(execution_id)
            if ex["status"] in wanted:
                return ex
            if ex["status"] in FINISHED or time.monotonic() > deadline:
                raise AssertionError(
                    f"execution {execution_id} is {ex['status']}, wanted {wanted}:\n{self.log(execution_id)}"
                )
            time.sleep(0.2)

    def wait_for_log(self, execution_id: str, text: str, timeout: float = 60) -> None:
        """Until the execution's log holds ``text`` (a resource being created, say)."""
        deadline = time.monotonic() + timeout
        while text not in self.log(execution_id):
            assert time.monotonic() < deadline, f"{text!r} never appeared:\n{self.log(execution_id)}"
            time.sleep(0.2)

    def log(self, execution_id: str) -> str:
        return str(self.http.get(f"/api/v1/executions/{execution_id}/logs").text)

    def state(self, name: str) -> dict:
        return dict(self.ok("GET", f"/api/v1/orgs/{self.org}/states/{name}"))

    def apply(self, pipeline_id: str, **extra: Any) -> dict:
        """Start an apply, confirm its plan, and wait for it to finish."""
        ex = self.start(pipeline_id, "apply", **extra)
        planned = self.wait(ex["id"], {"planned", "applied", "planned_and_finished"})
        if planned["status"] == "planned":
            self.ok("POST", f"/api/v1/executions/{ex['id']}/approve")
        return self.wait(ex["id"], {"applied", "planned_and_finished"})


def register(url: str, tag: str = "pipe") -> Client:
    email = unique_email(tag)
    r = httpx.post(
        url + "/api/v1/auth/register",
        json={
            "email": email,
            "password": PASSWORD,
            "name": tag,
            "organization": f"{tag} {uuid.uuid4().hex[:6]}",
        },
        timeout=30,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return Client(url, body["access_token"], body["organization"]["slug"])


class WorkerProcess:
    """A `board3 worker` process in its own process group, stopped (or killed) by the test."""

    def __init__(self, env: dict[str, str]) -> None:
        fd, name = tempfile.mkstemp(prefix="board3-worker-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(BOARD3), "worker"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL to the worker and everything it started (terraform, providers): a crash."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log_path.unlink(missing_ok=True)


@dataclass
class Stack:
    """A server and its workers (production mode), or one embedded server that works itself."""

    server: LiveServer
    env: dict[str, str]
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def add_worker(self, **env: str) -> WorkerProcess:
        worker = WorkerProcess(self.env | env)
        self.workers.append(worker)
        return worker

    def output(self) -> str:
        return self.server.output() + "".join(w.output() for w in self.workers)


@contextmanager
def stack(env: dict[str, str], workers: int = 1) -> Iterator[Stack]:
    """Start a server (and, in production mode, ``workers`` worker processes); stop them all."""
    server = LiveServer(env)
    server.start()
    running = Stack(server, env | {"BOARD3_PORT": str(server.port), "BOARD3_HOST": "127.0.0.1"})
    try:
        if "REDIS_URL" in env:
            for _ in range(workers):
                running.add_worker()
        yield running
    finally:
        for worker in running.workers:
            worker.stop()
        server.stop()
        server.log_path.unlink(missing_ok=True)


def pids_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
