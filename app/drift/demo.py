"""The drift loop as one offline demo (``board3 demo``, ``scripts/demo``), through the HTTP API only.

Uses the Board3 already serving at ``--url`` (default: this checkout's ``BOARD3_HOST:BOARD3_PORT``)
or, when none answers there, starts an embedded one of its own (SQLite, in-process workers, the
sandbox cloud) on a free port with its own data dir, and stops it at the end. Then: an account, a
design from the sandbox template, a pipeline, a plan and apply with the real terraform, someone
changing the load balancer at the sandbox's console, a drift check that names the attribute,
accepting the drift into the design, and a plan of the new version with nothing to do. Each step
prints its time and where to look in the API.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

FINISHED = {"applied", "planned_and_finished", "discarded", "errored", "canceled", "force_canceled"}
KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TERRAFORM_BIN", "TMPDIR")


class DemoFailed(Exception):
    """A step did not go as the demo expects; the message says what happened and where to look."""


@dataclass
class Steps:
    """Prints numbered steps with their duration and the API addresses to look at."""

    say: Callable[[str], None]
    base: str = ""
    started: float = field(default_factory=time.monotonic)
    number: int = 0
    last: float = field(default_factory=time.monotonic)

    def step(self, text: str) -> None:
        self.number += 1
        self.last = time.monotonic()
        self.say(f"\n{self.number}. {text}")

    def done(self, text: str, *look: str) -> None:
        seconds = time.monotonic() - self.last
        self.say(f"   {text}  ({seconds:.1f} s)")
        for request in look:
            method, _, path = request.partition(" ")
            self.say(f"   look: {method} {self.base}{path}")

    def total(self) -> float:
        return time.monotonic() - self.started


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/live", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def embedded_server(data_dir: Path) -> Iterator[tuple[str, int]]:
    """A ``board3 serve`` of its own, embedded mode, on a free loopback port; stopped afterwards."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ} | {
        "BOARD3_DATA_DIR": str(data_dir),
        "BOARD3_HOST": "127.0.0.1",
        "BOARD3_PORT": str(port),
        "BOARD3_SANDBOX": "true",
        "BOARD3_LOG_LEVEL": "WARNING",
    }
    board3 = [sys.executable, "-m", "app.cli"]
    log_path = data_dir / "server.log"
    migrated = subprocess.run([*board3, "migrate"], env=env, capture_output=True, text=True)
    if migrated.returncode != 0:
        raise DemoFailed(f"board3 migrate failed:\n{migrated.stderr[-2000:]}")
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [*board3, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _answers(url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise DemoFailed(f"the demo's server did not start; its log is {log_path}")
            time.sleep(0.1)
        yield url, server.pid
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)


class Api:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=60)

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200,), **kw: Any) -> Any:
        r = self.http.request(method, path, **kw)
        if r.status_code not in expect:
            raise DemoFailed(f"{method} {path} answered {r.status_code}: {r.text[:1000]}")
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text

    def wait(self, path: str, done: Callable[[dict[str, Any]], bool], what: str, timeout: float = 240) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            found = self.call("GET", path)
            if done(found):
                return found
            if time.monotonic() > deadline:
                raise DemoFailed(f"{what} did not finish within {timeout:.0f} s: {path}")
            time.sleep(0.1)

    def find_resource(self, type_: str, name: str) -> dict[str, Any]:
        """The sandbox resource of ``type_`` named ``name`` (the console lists them page by page)."""
        params: dict[str, Any] = {"type": type_, "limit": 200}
        while True:
            r = self.http.get("/api/v1/sandbox/resources", params=params)
            if r.status_code == 404:
                raise DemoFailed(
                    f"the Board3 at {self.url} has its sandbox console off (BOARD3_SANDBOX): stop it, or "
                    "run the demo with BOARD3_PORT set to a free port so that it starts its own"
                )
            if r.status_code != 200:
                raise DemoFailed(f"GET /api/v1/sandbox/resources answered {r.status_code}: {r.text[:1000]}")
            page = r.json()
            for item in page["items"]:
                if item["attributes"].get("name") == name:
                    return dict(item)
            if not page.get("next_cursor"):
                raise DemoFailed(f"the sandbox cloud has no {type_} named {name}")
            params["cursor"] = page["next_cursor"]

    def execution(self, execution_id: str, wanted: set[str]) -> dict[str, Any]:
        found: dict[str, Any] = self.wait(
            f"/api/v1/executions/{execution_id}", lambda e: e["status"] in wanted | FINISHED, "the execution"
        )
        if found["status"] not in wanted:
            log = self.call("GET", f"/api/v1/executions/{execution_id}/logs")
            raise DemoFailed(
                f"execution {execution_id} ended {found['status']}: {found['error']}\n{log[-3000:]}"
            )
        return found


def _show(value: Any) -> str:
    return str(value).replace("'", '"')


def run(api: Api, steps: Steps) -> None:
    """The drift loop against a running Board3."""
    steps.base = api.url
    tag = uuid.uuid4().hex[:8]
    steps.step("An account (its first organization comes with it)")
    body = api.call(
        "POST",
        "/api/v1/auth/register",
        (201,),
        json={
            "email": f"demo-{tag}@example.com",
            "password": f"demo passphrase {tag}",
            "name": "Demo",
            "organization": f"Drift demo {tag}",
        },
    )
    api.http.headers["Authorization"] = f"Bearer {body['access_token']}"
    org = body["organization"]["slug"]
    steps.done(f"demo-{tag}@example.com in organization {org}", "GET /api/v1/auth/me")

    steps.step("A design from the sandbox template `sandbox-static-site`")
    design = api.call(
        "POST",
        "/api/v1/templates/sandbox-static-site/instantiate",
        (201,),
        json={"organization": org, "name": f"static site {tag}"},
    )
    canvas = design["canvas"]
    for node in canvas["nodes"]:  # bucket and load balancer names are global in the sandbox cloud
        if node["type"] in ("sandbox_bucket", "sandbox_load_balancer"):
            node["properties"]["name"] = f"{node['properties']['name']}-{tag}"
    api.call(
        "POST",
        f"/api/v1/designs/{design['id']}/versions",
        (201,),
        json={"canvas": canvas, "base_version": 1, "message": "Unique bucket and load balancer names"},
    )
    lb = next(n for n in canvas["nodes"] if n["type"] == "sandbox_load_balancer")
    port = lb["properties"]["listener_port"]
    steps.done(
        f"{len(canvas['nodes'])} nodes, version 2; the load balancer listens on {port}",
        f"GET /api/v1/designs/{design['id']}",
    )

    steps.step("A pipeline for the `demo` environment, applying automatically")
    pipeline = api.call(
        "POST",
        f"/api/v1/designs/{design['id']}/pipelines",
        (201,),
        json={"environment": "demo", "auto_apply": True},
    )
    steps.done(f"state {pipeline['state']['name']}", f"GET /api/v1/pipelines/{pipeline['id']}")

    steps.step("Plan and apply it with terraform (the sandbox cloud, Board3 as the state backend)")
    started = api.call(
        "POST", f"/api/v1/pipelines/{pipeline['id']}/executions", (202,), json={"operation": "apply"}
    )
    applied = api.execution(started["id"], {"applied"})
    counts = applied["plan"]["counts"]
    steps.done(
        f"execution #{applied['number']} {applied['status']}: {counts['add']} resources created",
        f"GET /api/v1/executions/{applied['id']}/logs",
    )

    steps.step(f"Someone changes the load balancer at the sandbox's console: listener_port {port} -> 8443")
    resource = api.find_resource("sandbox_load_balancer", lb["properties"]["name"])
    api.call(
        "PATCH", f"/api/v1/sandbox/resources/{resource['id']}", json={"attributes": {"listener_port": 8443}}
    )
    steps.done(
        f"{resource['id']} changed outside Terraform", f"GET /api/v1/sandbox/resources/{resource['id']}"
    )

    steps.step("A drift check (terraform plan -refresh-only, then a plan to see what an apply would do)")
    check = api.call("POST", f"/api/v1/pipelines/{pipeline['id']}/drift-checks", (202,))
    check = api.wait(
        f"/api/v1/drift-checks/{check['id']}",
        lambda c: c["status"] not in ("pending", "running"),
        "the check",
    )
    if check["status"] != "drifted":
        raise DemoFailed(
            f"the check ended {check['status']} ({check['reason']}): GET /api/v1/drift-checks/{check['id']}"
        )
    for resource_drift in check["resources"]:
        for attribute in resource_drift["attributes"]:
            effect = attribute["effect"].replace("_", " ")
            steps.say(
                f"   {resource_drift['address']} (node {resource_drift['node_id']}): {attribute['name']} "
                f"{_show(attribute['before'])} -> {_show(attribute['after'])}, {effect}"
            )
    steps.done(
        f"{check['status']}: {check['counts']['drifted']} resource(s)",
        f"GET /api/v1/drift-checks/{check['id']}",
        f"GET /api/v1/designs/{design['id']}/diagram.svg?drift={check['id']}",
    )

    steps.step("Accept the drift into the design (the other choice, revert, is an apply: links.revert)")
    accepted = api.call("POST", f"/api/v1/drift-checks/{check['id']}/accept", (201,), json={})
    for value in accepted["accepted"]:
        before, after = _show(value["design_value"]), _show(value["value"])
        steps.say(f"   node {value['node_id']}: {value['attribute']} {before} -> {after}")
    steps.done(
        f"design version {accepted['version']['number']}",
        f"GET /api/v1/designs/{design['id']}/diff?from=2&to={accepted['version']['number']}",
    )

    steps.step("Plan the new version: the infrastructure already matches it")
    plan = api.call(
        "POST", f"/api/v1/pipelines/{pipeline['id']}/executions", (202,), json={"operation": "plan"}
    )
    planned = api.execution(plan["id"], {"planned_and_finished"})
    if planned["plan"]["has_changes"]:
        raise DemoFailed(
            f"the plan of the accepted version has changes: GET /api/v1/executions/{planned['id']}"
        )
    steps.done("No changes", f"GET /api/v1/executions/{planned['id']}")


def main(url: str | None, data_dir: Path, keep: bool, say: Callable[[str], None] = print) -> float:
    """Run the demo; returns its total seconds. ``keep``: leave a server the demo started running."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would bury the steps
    steps = Steps(say)
    default = f"http://{os.environ.get('BOARD3_HOST', '127.0.0.1')}:{os.environ.get('BOARD3_PORT', '8000')}"
    target = url or default
    if _answers(target):
        say(f"Using the Board3 serving at {target}.")
        run(Api(target), steps)
    elif url is not None:
        raise DemoFailed(f"no Board3 answers at {url}")
    else:
        say(f"No Board3 at {target}: starting an embedded one (data dir {data_dir}).")
        with contextlib.ExitStack() as stack:
            server, pid = stack.enter_context(embedded_server(data_dir))
            say(f"Board3 serving at {server} ({steps.total():.1f} s); API docs at {server}/schema")
            run(Api(server), steps)
            if keep:
                stack.pop_all()
                say(f"\nThe demo's server keeps serving at {server} (stop it with `kill {pid}`).")
            else:
                say("\nThe demo stops its server (run `scripts/demo --keep` to explore the API afterwards).")
    total = steps.total()
    say(f"\nDone in {total:.1f} s.")
    return total
