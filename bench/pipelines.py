"""Benchmark of pipelines against a real `board3 serve` and `board3 worker` processes (production mode).

    .venv/bin/python bench/pipelines.py [--quick]

Creates a PostgreSQL database of its own (dropped at the end), a Redis key prefix of its own, a
data dir with the sandbox provider, starts one server and two workers, and prints:
  * the wall time of a plan+apply execution (auto-apply) of a 30-resource sandbox design, from the
    POST that starts it to `applied`, beside the same terraform commands run directly (init,
    validate, plan -out, show -json, apply of the saved plan, local state): Board3's overhead;
  * log latency: from the moment terraform wrote a line (its `@timestamp`, shown in the log as
    `[HH:MM:SS.mmm]`) to its arrival at a server-sent-events follower of the execution's log;
  * 40 executions queued over 8 states at once with the two workers: wall time, executions per
    minute, and duplicates (plan or apply stages run more than once).
Targets: overhead <= 0.5 s; log latency p99 < 100 ms; zero duplicates.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.sandbox.install import install_mirror  # noqa: E402
from app.terraform.blocks import build_config  # noqa: E402
from app.terraform.canvas import Canvas  # noqa: E402
from app.terraform.catalog import load_catalog  # noqa: E402
from app.terraform.codegen_json import render_json  # noqa: E402
from app.terraform.runner import Workspace  # noqa: E402
from tests.pipelines.support import data_canvas, register, stack  # noqa: E402
from tests.support.cleanup import clear_redis  # noqa: E402
from tests.support.server import BOARD3  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
STAMP = re.compile(r"^\[(\d\d):(\d\d):(\d\d)\.(\d{3})\] ")


def canvas_30(tag: str) -> dict:
    """30 sandbox resources: a network, 9 subnets, 20 buckets (names unique per run)."""
    nodes: list[dict] = [
        {"id": "net", "type": "sandbox_network", "name": "main", "properties": {"cidr_block": "10.0.0.0/16"}}
    ]
    edges = []
    for i in range(9):
        nodes.append(
            {
                "id": f"s{i}",
                "type": "sandbox_subnet",
                "name": f"s{i}",
                "properties": {"cidr_block": f"10.0.{i}.0/24"},
                "parent": "net",
            }
        )
        edges.append({"source": f"s{i}", "target": "net"})
    for i in range(20):
        nodes.append(
            {
                "id": f"b{i}",
                "type": "sandbox_bucket",
                "name": f"b{i}",
                "properties": {"name": f"bench-{tag}-{i}"},
            }
        )
    return {"nodes": nodes, "edges": edges}


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def direct_run(canvas: dict, data_dir: Path) -> float:
    """The commands an execution runs, run directly: init, validate, plan -out, show, apply."""
    import msgspec

    config = build_config(msgspec.convert(canvas, Canvas), load_catalog(None))
    start = time.perf_counter()
    async with Workspace.create(sandbox=data_dir) as ws:
        ws.write("main.tf.json", render_json(config))
        for args in (
            ["init", "-input=false", "-no-color", "-json"],
            ["validate", "-no-color"],
            ["plan", "-input=false", "-json", "-out=plan.tfplan"],
        ):
            assert (await ws.run(args)).ok, args
        assert (await ws.run(["show", "-json", "plan.tfplan"], capture=True)).ok
        assert (await ws.run(["apply", "-input=false", "-json", "-auto-approve", "plan.tfplan"])).ok
        elapsed = time.perf_counter() - start
        await ws.run(["destroy", "-auto-approve", "-input=false", "-no-color"])
    return elapsed


def follow(c, execution_id: str, arrivals: list[tuple[float, str]], done: threading.Event) -> None:
    with c.http.stream("GET", f"/api/v1/executions/{execution_id}/logs?follow=true", timeout=300) as stream:
        data = None
        for line in stream.iter_lines():
            now = time.time()
            if line.startswith("data: "):
                data = line[6:]
            elif line.startswith("event: end"):
                break
            elif line == "" and data is not None:
                arrivals.append((now, data))
                data = None
    done.set()


def latencies(arrivals: list[tuple[float, str]]) -> list[float]:
    out = []
    today = dt.datetime.now(dt.UTC).date()
    for received, text in arrivals:
        m = STAMP.match(text)
        if not m:
            continue
        written = dt.datetime(
            today.year,
            today.month,
            today.day,
            int(m[1]),
            int(m[2]),
            int(m[3]),
            int(m[4]) * 1000,
            tzinfo=dt.UTC,
        )
        out.append(received - written.timestamp())
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(q / 100 * len(ordered)) - 1)]


def stage_times(execution: dict, start: float) -> dict[str, float]:
    """Where an execution's wall time went: before its first stage (the POST, the queue, the
    lease), each stage, the gaps between stages, and after the last one."""
    at = dt.datetime.fromisoformat
    stages = execution["stages"]
    times = {"before the first stage": at(stages[0]["started_at"]).timestamp() - start}
    gaps = 0.0
    for previous, stage in itertools.pairwise(stages):
        gaps += (at(stage["started_at"]) - at(previous["finished_at"])).total_seconds()
    for stage in stages:
        times[stage["name"]] = times.get(stage["name"], 0.0) + stage["duration_seconds"]
    times["between stages"] = gaps
    last = at(stages[-1]["finished_at"])
    times["after the last stage"] = (at(execution["finished_at"]) - last).total_seconds()
    return times


def production_env(database: str, data_dir: Path, prefix: str) -> dict[str, str]:
    """What a benchmark's server and workers run with: their own database, key prefix and data
    dir, the sandbox, and limits no benchmark reaches."""
    base, _, _ = ADMIN_URL.rpartition("/")
    return {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ} | {
        "DATABASE_URL": f"{base}/{database}",
        "REDIS_URL": REDIS_URL,
        "BOARD3_REDIS_PREFIX": prefix,
        "BOARD3_DATA_DIR": str(data_dir),
        "BOARD3_JWT_SECRET": "bench-" + "x" * 40,
        "BOARD3_SANDBOX": "true",
        "BOARD3_LOG_LEVEL": "WARNING",
        "BOARD3_RATE_LIMIT_API": "1000000",
        "BOARD3_RATE_LIMIT_AUTH": "1000000",
        "BOARD3_RATE_LIMIT_AUTH_ADDRESS": "1000000",
        "BOARD3_WORKER_CONCURRENCY": "2",
    }


def bench_overhead(c, data_dir: Path, runs: int) -> tuple[list[float], list[float], list[float]]:
    board3, direct, lags = [], [], []
    breakdown: list[dict[str, float]] = []
    for i in range(runs):
        tag = uuid.uuid4().hex[:6]
        direct.append(asyncio.run(direct_run(canvas_30(tag + "d"), data_dir)))
        design = c.design(canvas_30(tag))
        pipeline = c.pipeline(design, f"bench{i}", auto_apply=True)
        arrivals: list[tuple[float, str]] = []
        done = threading.Event()
        start = time.time()
        ex = c.start(pipeline["id"], "apply")
        threading.Thread(target=follow, args=(c, ex["id"], arrivals, done), daemon=True).start()
        finished = c.wait(ex["id"], "applied", timeout=300)
        # The server's end of the execution (same clock), not when a poll every 0.2 s saw it.
        board3.append(dt.datetime.fromisoformat(finished["finished_at"]).timestamp() - start)
        breakdown.append(stage_times(finished, start))
        done.wait(30)
        lags += latencies(arrivals)
        assert finished["plan"]["counts"]["add"] == 30
        destroy = c.start(pipeline["id"], "destroy")
        c.wait(destroy["id"], "applied", timeout=300)
    print("where Board3's time went (median of the runs, s):")
    for name in breakdown[0]:
        print(f"  {name:<24} {statistics.median(b.get(name, 0.0) for b in breakdown):6.3f}")
    return board3, direct, lags


def bench_queue(c) -> tuple[float, int, int]:
    pipelines = []
    for i in range(8):
        design = c.design(data_canvas(2, tag="v1"))
        for version in range(2, 6):
            c.save(design, data_canvas(2, tag=f"v{version}"))
        pipelines.append(c.pipeline(design, f"q{i}", auto_apply=True))
    start = time.perf_counter()
    ids = [c.start(p["id"], "apply", version=v)["id"] for v in range(1, 6) for p in pipelines]
    for ex in ids:
        c.wait(ex, "applied", timeout=600)
    wall = time.perf_counter() - start
    duplicates = 0
    for ex in ids:
        names = [s["name"] for s in c.execution(ex)["stages"]]
        duplicates += max(0, names.count("plan") - 1) + max(0, names.count("apply") - 1)
    return wall, len(ids), duplicates


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(
    board3: list[float], direct: list[float], ms: list[float], wall: float, count: int, dups: int
) -> None:
    b, d = statistics.median(board3), statistics.median(direct)
    runs = ", ".join(f"{x:.2f}" for x in direct), ", ".join(f"{x:.2f}" for x in board3)
    print(f"plan+apply of 30 sandbox resources (median of {len(board3)})")
    print(f"  terraform commands run directly   {d:7.2f} s   (runs: {runs[0]})")
    print(f"  Board3 execution, POST to applied {b:7.2f} s   (runs: {runs[1]})")
    print(f"  overhead                          {b - d:7.2f} s   target <= 0.5 s: {verdict(b - d <= 0.5)}")
    p50, p99 = pct(ms, 50), pct(ms, 99)
    print(f"log latency, terraform line -> SSE follower ({len(ms)} lines with millisecond timestamps)")
    worst = max(ms)
    ok = verdict(p99 < 100)
    print(f"  p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   max {worst:6.1f} ms   target p99 < 100 ms: {ok}")
    print(f"{count} executions over 8 states, 2 workers x 2 slots")
    print(
        f"  wall {wall:6.1f} s   {count / wall * 60:6.1f} executions/min   duplicates {dups}   "
        f"target zero duplicates: {verdict(dups == 0)}"
    )
    print(json.dumps({"overhead_s": round(b - d, 3), "log_p99_ms": round(p99, 1), "duplicates": dups}))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one overhead run instead of three")
    args = parser.parse_args()
    if shutil.which("terraform") is None:
        print("terraform not found")
        return 1
    name = f"board3_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    data_dir = Path(tempfile.mkdtemp(prefix="board3-bench-pipelines-"))
    env = production_env(name, data_dir, prefix)
    try:
        subprocess.run([str(BOARD3), "migrate"], env=env, check=True, capture_output=True, cwd=ROOT)
        install_mirror(data_dir)
        with stack(env, workers=2) as running:
            c = register(running.url, "bench")
            board3, direct, lags = bench_overhead(c, data_dir, 1 if args.quick else 3)
            wall, count, duplicates = bench_queue(c)
    finally:
        asyncio.run(admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))
        asyncio.run(clear_redis(REDIS_URL, prefix))
        shutil.rmtree(data_dir, ignore_errors=True)
    report(board3, direct, [x * 1000 for x in lags], wall, count, duplicates)
    return 0


if __name__ == "__main__":
    sys.exit(main())
