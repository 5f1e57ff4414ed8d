"""Workers as processes: a crash mid-apply, two workers sharing 40 executions, embedded mode."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest

from tests.pipelines.conftest import stack_env
from tests.pipelines.support import data_canvas, register, sandbox_canvas, stack
from tests.support.server import BOARD3, ROOT

pytestmark = pytest.mark.slow


def descendants(pid: int) -> list[int]:
    """Every process started by ``pid`` (whatever its session): what a crash of the machine running
    a worker takes down with it."""
    children: dict[int, list[int]] = defaultdict(list)
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(proc.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@pytest.mark.skipif("REDIS_URL" not in os.environ, reason="production mode: workers are processes")
def test_a_worker_killed_mid_apply_is_swept_and_the_next_execution_runs() -> None:
    with stack(stack_env(), workers=1) as running:
        c = register(running.url, "crash")
        design = c.design(sandbox_canvas(instances=1, boot_seconds=60))
        pipeline = c.pipeline(design, "dev", auto_apply=True)
        doomed = c.start(pipeline["id"], "apply")
        c.wait(doomed["id"], "applying")
        c.wait_for_log(doomed["id"], "sandbox_instance.vm0: Creating...")
        assert c.state(pipeline["state"]["name"])["lock"] is not None
        c.save(design, sandbox_canvas(tag="v2"))
        queued = c.start(pipeline["id"], "apply")
        assert c.execution(queued["id"])["status"] == "pending"

        crashed = running.workers[0]
        tree = descendants(crashed.process.pid)
        assert tree, "terraform should be running under the worker"
        for pid in [crashed.process.pid, *tree]:  # the machine goes down: the worker and its terraform
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        crashed.process.wait(timeout=10)
        survivor = running.add_worker()  # another worker's sweeper finds the lost execution

        lost = c.wait(doomed["id"], "errored", timeout=60)
        assert "stopped answering" in lost["error"]
        log = c.log(doomed["id"])
        assert "released the state lock" in log and "marked as diverged" in log
        state = c.state(pipeline["state"]["name"])
        assert state["diverged"] is True
        # The next execution runs on the survivor, and its successful apply clears the mark.
        assert c.wait(queued["id"], "applied", timeout=120)["status"] == "applied"
        state = c.state(pipeline["state"]["name"])
        assert state["lock"] is None and state["diverged"] is False
        assert "sweep:" in survivor.output()
        # The survivor also removed the dead worker's private workspace (it held a backend password).
        leftovers = list(Path(tempfile.gettempdir()).glob(f"board3-tf-{crashed.process.pid}-*"))
        assert leftovers == []
        # Board3 never ran the lost apply again on its own.
        assert [s["name"] for s in c.execution(doomed["id"])["stages"]].count("apply") == 1


@pytest.mark.skipif("REDIS_URL" not in os.environ, reason="production mode: workers are processes")
def test_two_workers_run_40_executions_over_8_states_once_each_in_order() -> None:
    with stack(stack_env(BOARD3_WORKER_CONCURRENCY="3"), workers=2) as running:
        c = register(running.url, "busy")
        pipelines = []
        for i in range(8):
            design = c.design(data_canvas(2, tag="v1"))
            for version in range(2, 6):
                c.save(design, data_canvas(2, tag=f"v{version}"))
            pipelines.append(c.pipeline(design, f"env{i}", auto_apply=True))
        started: dict[str, list[dict]] = defaultdict(list)
        for version in range(1, 6):  # five applies per state, each of a newer version
            for pipeline in pipelines:
                started[pipeline["id"]].append(c.start(pipeline["id"], "apply", version=version))
        for runs in started.values():
            for ex in runs:
                c.wait(ex["id"], "applied", timeout=300)
        for pipeline in pipelines:
            runs = [c.execution(ex["id"]) for ex in started[pipeline["id"]]]
            # Each ran exactly once: one plan and one apply stage, one worker's work.
            for run in runs:
                names = [s["name"] for s in run["stages"]]
                assert names.count("plan") == 1 and names.count("apply") == 1, names
            # FIFO, and never two at once on a state: each started after the previous one finished.
            ordered = sorted(runs, key=lambda r: r["number"])
            assert [r["design_version"] for r in ordered] == [1, 2, 3, 4, 5]
            for before, after in itertools.pairwise(ordered):
                assert before["finished_at"] <= after["started_at"], (before, after)
            versions = c.ok("GET", f"/api/v1/orgs/{c.org}/states/{pipeline['state']['name']}/versions")[
                "items"
            ]
            writers = [v["execution_id"] for v in sorted(versions, key=lambda v: v["serial"])]
            assert writers == [r["id"] for r in ordered]  # every write came from its own run, in order
        assert all("job execution" in w.output() for w in running.workers)  # both took work


def test_embedded_mode_plans_and_applies_with_no_redis(tmp_path: Path) -> None:
    data_dir = tmp_path / "embedded"
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")} | {
        "BOARD3_DATA_DIR": str(data_dir),
        "BOARD3_LOG_LEVEL": "INFO",
    }
    subprocess.run([str(BOARD3), "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    with stack(env) as running:
        assert running.workers == []  # the server runs executions itself
        c = register(running.url, "embedded")
        design = c.design(sandbox_canvas())
        pipeline = c.pipeline(design, "dev")
        ex = c.start(pipeline["id"], "apply")
        assert c.wait(ex["id"], "planned")["plan"]["counts"]["add"] == 2
        c.ok("POST", f"/api/v1/executions/{ex['id']}/approve")
        assert c.wait(ex["id"], "applied")["stages"][-1]["name"] == "apply"
        again = c.start(pipeline["id"], "apply")
        assert c.wait(again["id"], "planned_and_finished")["plan"]["counts"]["add"] == 0
        state = c.state(pipeline["state"]["name"])
        assert state["resource_count"] == 2 and state["lock"] is None
        ready = c.ok("GET", "/health/ready")
        assert "workers" not in [check["name"] for check in ready["checks"]]
