"""Benchmark of drift checks (production mode: PostgreSQL and Redis).

    .venv/bin/python bench/drift.py [--pipelines 10000] [--quick]

Creates a PostgreSQL database of its own (dropped at the end), a Redis key prefix of its own
(removed at the end) and a data dir with the sandbox provider, and prints:
  * the scheduler: ``--pipelines`` pipelines (applied, on ``0 * * * *``) all due at once, and two
    scheduler processes running the drift tick (the claim path every worker runs): the wall time
    until every pipeline has its check recorded and its execution handed to the job queue, and
    duplicates (a pipeline with more than one check or drift execution). No terraform runs here;
  * one drift check of a 30-resource sandbox design through a real server and worker, from the
    POST to its result, beside a bare ``terraform plan -refresh-only`` in the directory that
    applied it, and beside the check's terraform commands run directly in a fresh directory (init
    and plan -refresh-only -out; once something drifted, also plan -out and show -json): Board3's
    overhead.
Targets: every due check dispatched in < 10 s with zero duplicates; overhead <= 0.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.drift.scheduler import CHUNK  # noqa: E402
from bench.pipelines import canvas_30, production_env  # noqa: E402
from tests.drift.support import run_check  # noqa: E402
from tests.pipelines.support import register, stack  # noqa: E402
from tests.support.cleanup import clear_redis  # noqa: E402
from tests.support.server import BOARD3  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ENVIRONMENTS_PER_DESIGN = 4


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


# --- the scheduler -------------------------------------------------------------------------------


async def seed(count: int) -> None:
    """``count`` applied pipelines on ``0 * * * *``, due now, ``ENVIRONMENTS_PER_DESIGN`` per design."""
    from app.accounts.tables import Organization
    from app.config import get_settings
    from app.db import engine as db_engine
    from app.db import get_engine
    from app.designs.tables import Design
    from app.pipelines.tables import Pipeline

    engine = get_engine()
    await db_engine.start(engine, get_settings())
    try:
        now = dt.datetime.now(dt.UTC)
        org = uuid.uuid4()
        await Organization.insert(
            Organization(id=org, slug=f"bench-{org.hex[:8]}", name="bench", created_at=now)
        )
        designs, pipelines = [], []
        for d in range(0, count, ENVIRONMENTS_PER_DESIGN):
            design = uuid.uuid4()
            links = []
            for e in range(min(ENVIRONMENTS_PER_DESIGN, count - d)):
                pid, env = uuid.uuid4(), f"env{e}"
                links.append({"environment": env, "pipeline_id": str(pid), "state": f"s-{pid}"})
                pipelines.append(
                    Pipeline(
                        id=pid,
                        organization=org,
                        design=design,
                        environment=env,
                        state_id=uuid.uuid4(),
                        state_name=f"s-{pid}",
                        drift_schedule="0 * * * *",
                        next_drift_check_at=now - dt.timedelta(minutes=1),
                        last_applied_version=1,
                        last_applied_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                )
            designs.append(
                Design(
                    id=design,
                    organization=org,
                    name=f"d{d}",
                    created_at=now,
                    updated_at=now,
                    current_version=1,
                    environments=links,
                )
            )
        for i in range(0, len(designs), 1000):
            await Design.insert(*designs[i : i + 1000])
        for i in range(0, len(pipelines), 1000):
            await Pipeline.insert(*pipelines[i : i + 1000])
    finally:
        await db_engine.stop(engine)


async def _process(settings):  # type: ignore[no-untyped-def]
    """A process's engine and job queue, bound as a worker binds them."""
    from app.db import engine as db_engine
    from app.db import get_engine
    from app.lib import runtime
    from app.lib.gate import make_gate
    from app.worker.queue import SaqQueue

    engine = get_engine()
    await db_engine.start(engine, settings)
    queue = SaqQueue(settings.redis.url, settings.redis.prefix)
    bound = runtime.bind(runtime.Runtime(gate=make_gate(None, settings.redis.prefix, None), jobs=queue))

    async def close() -> None:
        runtime.unbind(bound)
        await queue.close()
        await db_engine.stop(engine)

    return close


async def scheduler_process(start_at: float) -> None:
    """One scheduler process: the drift tick, as a worker's upkeep runs it, until nothing is due."""
    from app.config import get_settings
    from app.drift.scheduler import tick

    settings = get_settings()
    close = await _process(settings)
    claimed = 0
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        while True:
            report = await tick(settings)
            claimed += report.claimed
            if not report.claimed:
                break
        finished = time.time()
    finally:
        await close()
    print(json.dumps({"claimed": claimed, "finished": finished}))


async def delivery_process(start_at: float, count: int) -> None:
    """A worker taking claimed checks' jobs: the first ``count`` claims, each of which the other
    delivery process takes too (every job delivered twice)."""
    from app.config import get_settings
    from app.drift.scheduler import job_key, start_claimed
    from app.pipelines.tables import Pipeline

    settings = get_settings()
    close = await _process(settings)
    recorded = 0
    try:
        rows = (
            await Pipeline.select(Pipeline.id, Pipeline.next_drift_check_at)
            .order_by(Pipeline.id)
            .limit(count)
        )
        keys = [job_key(r["next_drift_check_at"], [r["id"]]) for r in rows]
        await asyncio.sleep(max(0.0, start_at - time.time()))
        slots = asyncio.Semaphore(4)

        async def one(key: str) -> None:
            nonlocal recorded
            async with slots:
                done = await start_claimed(key, settings)
            recorded += done.started + done.skipped

        await asyncio.gather(*(one(k) for k in keys))
        finished = time.time()
    finally:
        await close()
    print(json.dumps({"recorded": recorded, "finished": finished}))


async def outcome(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        return {
            "pipelines": await conn.fetchval("SELECT count(*) FROM pipelines"),
            "claimed": await conn.fetchval(
                "SELECT count(*) FROM pipelines WHERE next_drift_check_at > now() + interval '5 minutes'"
            ),
            "checks": await conn.fetchval("SELECT count(*) FROM drift_checks"),
            "checked": await conn.fetchval("SELECT count(DISTINCT pipeline) FROM drift_checks"),
            "drift_executions": await conn.fetchval(
                "SELECT count(*) FROM pipeline_executions WHERE operation = 'drift'"
            ),
        }
    finally:
        await conn.close()


async def queued_jobs(prefix: str) -> int:
    from saq import Queue

    queue = Queue.from_url(REDIS_URL, name=f"{prefix}:jobs")
    try:
        info = await queue.info()
        return int(info.get("queued", 0))
    finally:
        await queue.disconnect()


def _together(env: dict[str, str], *args: str) -> tuple[float, list[dict]]:
    """Run ``bench/drift.py <args> <start time>`` twice at once; the start time and their reports."""
    start_at = time.time() + 5  # both have started and connected by then
    runs = [
        subprocess.Popen(
            [sys.executable, __file__, *args, str(start_at)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    reports = []
    for run in runs:
        out, _ = run.communicate(timeout=900)
        assert run.returncode == 0, out
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return start_at, reports


def bench_scheduler(env: dict[str, str], count: int, delivered: int) -> dict:
    subprocess.run(
        [sys.executable, __file__, "--seed", str(count)], env=env, check=True, cwd=ROOT, capture_output=True
    )
    start_at, reports = _together(env, "--scheduler")
    found = asyncio.run(outcome(env["DATABASE_URL"]))
    found["jobs"] = asyncio.run(queued_jobs(env["BOARD3_REDIS_PREFIX"]))
    found["wall"] = max(r["finished"] for r in reports) - start_at
    found["per_process"] = [r["claimed"] for r in reports]
    # Every claimed check is dispatched once: as many claims as pipelines, every pipeline claimed.
    found["duplicate_claims"] = sum(found["per_process"]) - found["claimed"]
    start_at, reports = _together(env, "--deliver", str(delivered))
    after = asyncio.run(outcome(env["DATABASE_URL"]))
    found["delivered"] = delivered
    found["delivery_wall"] = max(r["finished"] for r in reports) - start_at
    found["recorded"] = sum(r["recorded"] for r in reports)
    found["duplicate_checks"] = (
        after["checks"] - after["checked"] + (after["drift_executions"] - after["checks"])
    )
    found["checks_after_delivery"] = after["checks"]
    return found


# --- one check beside terraform ------------------------------------------------------------------


async def measure(c: Any, pipeline_id: str, tag: str, data_dir: Path, runs: int) -> dict[str, list[float]]:
    """Board3's check of the pipeline (the design ``canvas_30(tag)``) beside the same commands run
    directly on a copy (``canvas_30(tag + "-direct")``) in a fresh directory with its local state,
    as a check starts, and beside a bare ``plan -refresh-only`` in the directory that applied it;
    taken in turns so that both see the same machine; then the same once a bucket of each was
    changed out of band (the check then also runs a normal plan)."""
    import msgspec

    from app.terraform.blocks import build_config
    from app.terraform.canvas import Canvas
    from app.terraform.catalog import load_catalog
    from app.terraform.codegen_json import render_json
    from app.terraform.runner import Workspace

    names = ("bare", "clean_direct", "clean", "drifted_direct", "drifted")
    names += ("no_drift_stages", "no_drift_pickup", "drifted_stages", "drifted_pickup")
    out: dict[str, list[float]] = {k: [] for k in names}
    config = render_json(
        build_config(msgspec.convert(canvas_30(f"{tag}-direct"), Canvas), load_catalog(None))
    )
    async with Workspace.create(sandbox=data_dir) as ws:
        ws.write("main.tf.json", config)
        assert (await ws.run(["init", "-input=false", "-no-color"])).ok
        assert (await ws.run(["apply", "-auto-approve", "-input=false", "-no-color"])).ok
        state = (ws.work_dir / "terraform.tfstate").read_text()

        async def direct(drifted: bool) -> float:
            """A fresh directory with the configuration and the state, as a check starts."""
            start = time.perf_counter()
            async with Workspace.create(sandbox=data_dir) as fresh:
                fresh.write("main.tf.json", config)
                fresh.write("terraform.tfstate", state)
                for args in (
                    ["init", "-input=false", "-no-color", "-json"],
                    ["plan", "-refresh-only", "-input=false", "-json", "-out=drift.tfplan"],
                ):
                    assert (await fresh.run(args)).ok, args
                if drifted:
                    assert (await fresh.run(["plan", "-input=false", "-json", "-out=plan.tfplan"])).ok
                    assert (await fresh.run(["show", "-json", "plan.tfplan"], capture=True)).ok
            return time.perf_counter() - start

        async def board3(status: str) -> float:
            start = time.perf_counter()
            found = await asyncio.to_thread(run_check, c, pipeline_id, 0.02)
            elapsed = time.perf_counter() - start
            assert found["status"] == status, found
            execution = c.execution(found["execution_id"])
            out[f"{status}_stages"].append(sum(s["duration_seconds"] for s in execution["stages"]))
            out[f"{status}_pickup"].append(seconds(execution["created_at"], execution["started_at"]))
            return elapsed

        await board3("no_drift")  # warm both up
        await direct(False)
        for _ in range(runs):
            start = time.perf_counter()
            assert (await ws.run(["plan", "-refresh-only", "-input=false", "-no-color"])).ok
            out["bare"].append(time.perf_counter() - start)
            out["clean_direct"].append(await direct(False))
            out["clean"].append(await board3("no_drift"))
        change_bucket(data_dir, f"bench-{tag}-direct-0")
        change_bucket(data_dir, f"bench-{tag}-0")
        for _ in range(runs):
            out["drifted_direct"].append(await direct(True))
            out["drifted"].append(await board3("drifted"))
        await ws.run(["destroy", "-auto-approve", "-input=false", "-no-color"])
    return out


def seconds(start: str, end: str) -> float:
    return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()


def change_bucket(data_dir: Path, name: str) -> None:
    """Someone edits the bucket's tags at the console (``board3 sandbox set``)."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ} | {
        "BOARD3_DATA_DIR": str(data_dir)
    }

    def board3(*args: str) -> str:
        return subprocess.run(
            [str(BOARD3), *args], env=env, capture_output=True, text=True, check=True
        ).stdout

    buckets = json.loads(board3("sandbox", "list", "--type", "sandbox_bucket", "--json"))
    (found,) = [b["id"] for b in buckets if b["attributes"]["name"] == name]
    board3("sandbox", "set", found, 'tags={"by": "hand"}')


def bench_check(env: dict[str, str], data_dir: Path, runs: int) -> dict[str, list[float]]:
    tag = uuid.uuid4().hex[:6]
    with stack(env, workers=1) as running:
        c = register(running.url, "bench")
        pipeline = c.pipeline(c.design(canvas_30(tag)), "bench", auto_apply=True)
        assert c.apply(pipeline["id"])["status"] == "applied"
        return asyncio.run(measure(c, pipeline["id"], tag, data_dir, runs))


# --- report --------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(scheduled: dict | None, count: int, checked: dict | None) -> None:
    if scheduled is not None:
        report_scheduler(scheduled, count)
    if checked is not None:
        report_check(checked)


def report_scheduler(scheduled: dict, count: int) -> None:
    wall = scheduled["wall"]
    done = wall < 10 and scheduled["claimed"] == count and scheduled["jobs"] > 0
    dups = scheduled["duplicate_claims"] + scheduled["duplicate_checks"]
    print(
        f"scheduler: {count} pipelines due at once, 2 scheduler processes (the drift tick of `board3 worker`)"
    )
    print(
        f"  all claimed and handed to the job queue in {wall:6.2f} s ({count / wall:.0f}/s)   "
        f"target < 10 s: {verdict(done)}"
    )
    print(
        f"  claimed {scheduled['claimed']}/{scheduled['pipelines']} "
        f"(per process {scheduled['per_process']}), "
        f"jobs in the queue {scheduled['jobs']} ({CHUNK} checks each), "
        f"duplicate claims {scheduled['duplicate_claims']}"
    )
    delivered, recorded, seconds = scheduled["delivered"], scheduled["recorded"], scheduled["delivery_wall"]
    print(
        f"  the first {delivered} jobs taken by two workers at once, each job delivered twice: "
        f"{recorded} checks recorded ({scheduled['checks_after_delivery']} in the database, each with its "
        f"drift execution) in {seconds:.2f} s ({delivered / seconds:.0f}/s)"
    )
    print(f"  duplicates {dups}   target zero duplicates: {verdict(dups == 0 and recorded == delivered)}")
    print(json.dumps({"scheduler_wall_s": round(wall, 3), "duplicates": dups}))


def report_check(checked: dict[str, list[float]]) -> None:
    m = {k: statistics.median(v) for k, v in checked.items()}
    over_bare = m["clean"] - m["bare"]
    own_clean, own_drift = m["clean"] - m["clean_direct"], m["drifted"] - m["drifted_direct"]
    rows = [
        ("bare `terraform plan -refresh-only`", m["bare"], ""),
        ("no drift: Board3 check, POST to result", m["clean"], ""),
        (
            "          overhead beside the bare plan",
            over_bare,
            f"   target <= 0.5 s: {verdict(over_bare <= 0.5)}",
        ),
        (
            "          its commands run directly",
            m["clean_direct"],
            "   (fresh directory: init, plan -refresh-only)",
        ),
        ("          Board3's own share", own_clean, ""),
        ("            (the check's terraform stages", m["no_drift_stages"], ")"),
        ("            (POST until a worker started it", m["no_drift_pickup"], ")"),
        ("drifted:  Board3 check, POST to result", m["drifted"], ""),
        ("          its commands run directly", m["drifted_direct"], "   (also plan -out, show -json)"),
        ("          Board3's own share", own_drift, f"   target <= 0.5 s: {verdict(own_drift <= 0.5)}"),
        ("            (the check's terraform stages", m["drifted_stages"], ")"),
        ("            (POST until a worker started it", m["drifted_pickup"], ")"),
    ]
    print(f"one drift check of 30 sandbox resources (median of {len(checked['clean'])}, taken in turns)")
    for label, seconds, note in rows:
        print(f"  {label:<42} {seconds:6.2f} s{note}")
    summary = {"overhead_vs_bare_s": round(over_bare, 3), "own_no_drift_s": round(own_clean, 3)}
    print(json.dumps(summary | {"own_drifted_s": round(own_drift, 3)}))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipelines", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="one timed check instead of five")
    parser.add_argument("--only", choices=["scheduler", "check"], help="run one of the two parts")
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--scheduler", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--deliver", nargs=2, type=float, help=argparse.SUPPRESS)
    parser.add_argument("--delivered", type=int, default=1000, help="claimed checks recorded after the burst")
    args = parser.parse_args()
    if args.seed is not None:
        asyncio.run(seed(args.seed))
        return 0
    if args.scheduler is not None:
        asyncio.run(scheduler_process(args.scheduler))
        return 0
    if args.deliver is not None:
        asyncio.run(delivery_process(args.deliver[1], int(args.deliver[0])))
        return 0
    if shutil.which("terraform") is None:
        print("terraform not found")
        return 1
    name = f"board3_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    data_dir = Path(tempfile.mkdtemp(prefix="board3-bench-drift-"))
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    env = production_env(name, data_dir, prefix)
    try:
        subprocess.run([str(BOARD3), "migrate"], env=env, check=True, capture_output=True, cwd=ROOT)
        from app.sandbox.install import install_mirror

        install_mirror(data_dir)
        scheduled = bench_scheduler(env, args.pipelines, args.delivered) if args.only != "check" else None
        if args.only != "scheduler":
            if scheduled is not None:  # a clean database and queue for the server and worker
                asyncio.run(
                    admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
                )
                asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))
                asyncio.run(clear_redis(REDIS_URL, prefix))
                asyncio.run(admin(f'CREATE DATABASE "{name}"'))
                subprocess.run([str(BOARD3), "migrate"], env=env, check=True, capture_output=True, cwd=ROOT)
            checked = bench_check(env, data_dir, 1 if args.quick else 5)
        else:
            checked = None
    finally:
        asyncio.run(admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))
        asyncio.run(clear_redis(REDIS_URL, prefix))
        shutil.rmtree(data_dir, ignore_errors=True)
    report(scheduled, args.pipelines, checked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
