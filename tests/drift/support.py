"""Drift checks through HTTP, and the sandbox cloud changed out of band, for the drift tests."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

from tests.pipelines.support import Client, Stack
from tests.support.server import BOARD3, ROOT

IN_FLIGHT = {"pending", "running"}


def start_check(c: Client, pipeline_id: str) -> dict:
    return dict(c.ok("POST", f"/api/v1/pipelines/{pipeline_id}/drift-checks", 202))


def check(c: Client, check_id: str) -> dict:
    return dict(c.ok("GET", f"/api/v1/drift-checks/{check_id}"))


def wait_check(c: Client, check_id: str, timeout: float = 120, poll: float = 0.2) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = check(c, check_id)
        if found["status"] not in IN_FLIGHT:
            return found
        if time.monotonic() > deadline:
            log = c.log(found["execution_id"]) if found["execution_id"] else ""
            raise AssertionError(f"check {check_id} is still {found['status']}:\n{log}")
        time.sleep(poll)


def run_check(c: Client, pipeline_id: str, poll: float = 0.2) -> dict:
    return wait_check(c, start_check(c, pipeline_id)["id"], poll=poll)


def sandbox(stack: Stack, *args: str) -> str:
    """``board3 sandbox ...`` against the stack's sandbox store (someone at the cloud's console)."""
    done = subprocess.run(
        [str(BOARD3), "sandbox", *args], cwd=ROOT, env=stack.env, capture_output=True, text=True, check=True
    )
    return done.stdout


def cloud_id(stack: Stack, type_: str, **attributes: Any) -> str:
    """The id of the sandbox resource of ``type_`` whose attributes include ``attributes``."""
    found = json.loads(sandbox(stack, "list", "--type", type_, "--json"))
    matching = [r for r in found if all(r["attributes"].get(k) == v for k, v in attributes.items())]
    assert len(matching) == 1, (type_, attributes, found)
    return str(matching[0]["id"])


def by_address(found: dict) -> dict[str, dict]:
    return {r["address"]: r for r in found["resources"]}
