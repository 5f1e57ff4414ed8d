"""Benchmark of the design API against a bare Litestar JSON endpoint (the ceiling).

    .venv/bin/python bench/designs.py [--duration 15] [--rounds 3] [--concurrency 32] [--nodes 200]

Production mode, real processes: the script creates a PostgreSQL database and a Redis key prefix
of its own, runs ``board3 migrate`` and ``board3 serve`` (one uvicorn process), starts a bare
Litestar app serving a JSON body of the same size as the design (another process), and drives
both from this process with keep-alive HTTP/1.1 connections. It prints requests/s, p50 and p99 for
GET design (cached), GET version, POST version (a 200-node canvas, one node changed per save) and
the ceiling, with the ratio of each to the ceiling. "auth floor" is an authenticated route doing no
domain work (GET /api/v1/permissions): what the shared middleware stack alone costs. The GET
scenarios run interleaved in rounds (5 s each by default), so a slow spell of the machine hits
them alike: a ratio is the median of the per-round ratios, p99 the worst round's. Everything the
script created is removed at the end.

Environment: BENCH_ADMIN_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres),
BENCH_REDIS_URL (default redis://127.0.0.1:6379/14).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# `python -m app.cli` from the checkout this script belongs to (= `board3`, without relying on
# which tree the installed entry point imports).
BOARD3 = [sys.executable, "-m", "app.cli"]
ADMIN_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
TARGET_RATIO = 0.5
CEILING = "ceiling (bare Litestar JSON)"
DESIGN = "GET design (cached)"
TARGET_P99_MS = 25.0

sys.path.insert(0, str(ROOT))
from tests.support.cleanup import clear_redis  # noqa: E402

# --- the ceiling: a bare Litestar app ----------------------------------------------------------


def ceiling_app(body_file: str) -> Any:
    """A Litestar app with one JSON endpoint returning the design's body (encoded per request)."""
    from litestar import Litestar, get

    payload = json.loads(Path(body_file).read_bytes())

    @get("/ceiling")
    async def ceiling() -> dict[str, Any]:
        return payload  # type: ignore[no-any-return]

    return Litestar([ceiling], debug=False, logging_config=None)


def serve_ceiling(port: int, body_file: str) -> None:
    import uvicorn

    uvicorn.run(ceiling_app(body_file), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- a small keep-alive HTTP/1.1 load generator ---------------------------------------------------


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        data = await self.reader.readexactly(length) if length else b""
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


RequestFactory = Callable[[int, int], tuple[str, str, dict[str, str], bytes]]


async def load(
    port: int, factory: RequestFactory, concurrency: int, duration: float, expect: set[int]
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    async def worker(index: int) -> None:
        nonlocal errors
        conn = Connection(port)
        i = 0
        try:
            while time.perf_counter() < deadline:
                method, path, headers, body = factory(index, i)
                start = time.perf_counter()
                status, _ = await conn.request(method, path, headers, body)
                latencies.append(time.perf_counter() - start)
                if status not in expect:
                    errors += 1
                i += 1
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": q[49] * 1000,
        "p99": q[98] * 1000,
        "errors": errors,
    }


WRK = shutil.which("wrk")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    for unit in ("us", "ms", "s"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * _UNITS[unit]
    return float(text) * 1000.0


async def wrk_load(
    port: int, path: str, headers: dict[str, str], concurrency: int, duration: float
) -> dict[str, float]:
    """Drive a GET with wrk (C, one thread): the load generator then costs far less CPU than the
    server it measures, which matters on a 2-core machine."""
    assert WRK is not None
    cmd = [WRK, "-t1", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    proc = await asyncio.create_subprocess_exec(
        *cmd, f"http://127.0.0.1:{port}{path}", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    text = out.decode()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {err.decode()}")
    result: dict[str, float] = {"errors": 0}
    for line in text.splitlines():
        parts = line.split()
        if line.strip().startswith("50%"):
            result["p50"] = _ms(parts[1])
        elif line.strip().startswith("99%"):
            result["p99"] = _ms(parts[1])
        elif line.startswith("Requests/sec:"):
            result["rps"] = float(parts[1])
        elif "requests in" in line:
            result["requests"] = float(parts[0])
        elif line.strip().startswith("Non-2xx"):
            result["errors"] = float(parts[-1])
    return result


# --- setup ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn=ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def canvas_of(nodes: int, rev: str = "0") -> dict[str, Any]:
    """A canvas of typed nodes with properties and a chain of edges; ``rev`` tags node 0."""
    out_nodes = []
    for i in range(nodes):
        out_nodes.append(
            {
                "id": f"node-{i:04d}",
                "type": "aws_instance" if i % 3 else "aws_subnet",
                "name": f"res_{i}",
                "properties": {
                    "instance_type": "t3.micro",
                    "tags": {"Name": f"res-{i}", "team": "platform", "rev": rev if i == 0 else "0"},
                    "count_hint": i,
                },
                "position": {"x": float(i % 20) * 120, "y": float(i // 20) * 90},
            }
        )
    edges = [{"source": f"node-{i:04d}", "target": f"node-{i - 1:04d}"} for i in range(1, nodes)]
    return {"nodes": out_nodes, "edges": edges}


async def run(args: argparse.Namespace) -> int:
    import httpx

    run_id = uuid.uuid4().hex[:8]
    db_name = f"board3_bench_{run_id}"
    prefix = f"b3bench{run_id}"
    data_dir = tempfile.mkdtemp(prefix="board3-bench-")
    base, _, _ = ADMIN_URL.rpartition("/")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": f"{base}/{db_name}",
        "REDIS_URL": REDIS_URL,
        "BOARD3_REDIS_PREFIX": prefix,
        "BOARD3_DATA_DIR": data_dir,
        "BOARD3_JWT_SECRET": "bench-" + "x" * 60,
        "BOARD3_RATE_LIMIT_API": "100000000",
        "BOARD3_RATE_LIMIT_AUTH": "100000",
        "BOARD3_LOG_LEVEL": "WARNING",
        "BOARD3_DB_POOL_MAX": str(args.pool),
    }
    port, ceiling_port = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    await admin(f'CREATE DATABASE "{db_name}"')
    try:
        subprocess.run([*BOARD3, "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
        server = subprocess.Popen(
            [*BOARD3, "serve", "--port", str(port)], env=env, cwd=ROOT, start_new_session=True
        )
        procs.append(server)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url + "/health/ready", server)

        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            email = f"bench-{run_id}@example.com"
            r = await http.post(
                "/api/v1/auth/register",
                json={
                    "email": email,
                    "password": "bench password 123",
                    "name": "Bench",
                    "organization": f"bench {run_id}",
                },
            )
            r.raise_for_status()
            token, org = r.json()["access_token"], r.json()["organization"]["slug"]
            auth = {"Authorization": f"Bearer {token}"}
            r = await http.post(
                f"/api/v1/orgs/{org}/designs",
                json={"name": "bench", "canvas": canvas_of(args.nodes)},
                headers=auth,
            )
            r.raise_for_status()
            design_id = r.json()["id"]
            design_body = (await http.get(f"/api/v1/designs/{design_id}", headers=auth)).content
            writers = []
            for i in range(args.concurrency):
                r = await http.post(
                    f"/api/v1/orgs/{org}/designs",
                    json={"name": f"writer-{i}", "canvas": canvas_of(args.nodes)},
                    headers=auth,
                )
                r.raise_for_status()
                writers.append(r.json()["id"])

        body_file = Path(data_dir) / "ceiling.json"
        body_file.write_bytes(design_body)
        ceiling = subprocess.Popen(
            [sys.executable, __file__, "--serve-ceiling", str(ceiling_port), str(body_file)],
            cwd=ROOT,
            start_new_session=True,
        )
        procs.append(ceiling)
        wait_ready(f"http://127.0.0.1:{ceiling_port}/ceiling", ceiling)

        get_design: RequestFactory = lambda w, i: ("GET", f"/api/v1/designs/{design_id}", auth, b"")  # noqa: E731
        get_version: RequestFactory = lambda w, i: (  # noqa: E731
            "GET",
            f"/api/v1/designs/{design_id}/versions/1",
            auth,
            b"",
        )
        post_headers = {**auth, "Content-Type": "application/json"}
        # Each writer has its own design at version 1 (the full canvas); each save edits one node
        # (the tag "rev" of node 0), like a designer changing one box, on top of the last version.
        template = json.dumps(
            {"canvas": canvas_of(args.nodes, "@REV@"), "base_version": 0, "message": "save"}
        ).encode()

        def post_version(w: int, i: int) -> tuple[str, str, dict[str, str], bytes]:
            body = template.replace(b"@REV@", str(i + 1).encode())
            body = body.replace(b'"base_version": 0', b'"base_version": %d' % (i + 1))
            return "POST", f"/api/v1/designs/{writers[w]}/versions", post_headers, body

        ceiling_req: RequestFactory = lambda w, i: ("GET", "/ceiling", {}, b"")  # noqa: E731
        # The floor the foundation's middleware sets for any authenticated route (no domain work).
        auth_floor: RequestFactory = lambda w, i: ("GET", "/api/v1/permissions", auth, b"")  # noqa: E731
        # Warm up (connections, caches, JIT-free but import-heavy paths).
        await load(port, get_design, args.concurrency, 1.0, {200})
        await load(ceiling_port, ceiling_req, args.concurrency, 1.0, {200})
        use_wrk = args.client == "wrk"

        async def get(port_: int, factory: RequestFactory, seconds: float) -> dict[str, float]:
            if use_wrk:
                _, path, headers, _ = factory(0, 0)
                return await wrk_load(port_, path, headers, args.concurrency, seconds)
            return await load(port_, factory, args.concurrency, seconds, {200})

        # The GET scenarios run interleaved, in rounds, so that a slow spell of this shared machine
        # hits all of them alike; each scenario's ratio is the median of its per-round ratios to
        # the ceiling measured in the same round.
        scenarios = {
            CEILING: (ceiling_port, ceiling_req),
            "auth floor (GET /permissions)": (port, auth_floor),
            DESIGN: (port, get_design),
            "GET version": (port, get_version),
        }
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in scenarios}
        for _ in range(args.rounds):
            for name, (port_, factory) in scenarios.items():
                rounds[name].append(await get(port_, factory, args.duration / args.rounds))
        results = {name: combine(runs, rounds[CEILING]) for name, runs in rounds.items()}
        # Each request needs its own body and base_version: always the Python client.
        post = await load(port, post_version, args.concurrency, args.duration, {201})
        results[f"POST version ({args.nodes} nodes)"] = post | {
            "ratio": post["rps"] / results[CEILING]["rps"]
        }
        report(results, args, len(design_body))
        design = results[DESIGN]
        ok = design["ratio"] >= TARGET_RATIO and design["p99"] < TARGET_P99_MS
        print(
            f"\ntarget GET design >= {TARGET_RATIO:.0%} of ceiling and p99 < {TARGET_P99_MS:.0f} ms: "
            f"{'met' if ok else 'MISSED'}"
        )
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        await admin(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db_name}' "
            "AND pid <> pg_backend_pid()"
        )
        await admin(f'DROP DATABASE IF EXISTS "{db_name}"')
        await clear_redis(REDIS_URL, prefix)
        shutil.rmtree(data_dir, ignore_errors=True)


def combine(runs: list[dict[str, float]], ceiling: list[dict[str, float]]) -> dict[str, float]:
    """One scenario over its rounds: totals, the median p50, the worst p99, and the median of the
    per-round ratios to the ceiling's round."""
    requests = sum(r["requests"] for r in runs)
    return {
        "requests": requests,
        "rps": statistics.fmean(r["rps"] for r in runs),
        "p50": statistics.median(r["p50"] for r in runs),
        "p99": max(r["p99"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "ratio": statistics.median(r["rps"] / c["rps"] for r, c in zip(runs, ceiling, strict=True)),
    }


def report(results: dict[str, dict[str, float]], args: argparse.Namespace, body_size: int) -> None:
    print(
        f"\nboard3 design API, {args.concurrency} concurrent clients, {args.duration:.0f} s per scenario "
        f"(GETs in {args.rounds} interleaved rounds), design body {body_size} bytes ({args.nodes} nodes), "
        f"1 server process, cpus={os.cpu_count()}, GET load from {args.client}"
    )
    print(
        f"{'scenario':<32}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'vs ceiling':>12}"
    )
    for name, r in results.items():
        print(
            f"{name:<32}{r['requests']:>10.0f}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
            f"{r['errors']:>8.0f}{r['ratio']:>11.0%}"
        )


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-ceiling":
        serve_ceiling(int(sys.argv[2]), sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per scenario")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds the GET scenarios' seconds are split into"
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--nodes", type=int, default=200, help="nodes of the canvas")
    parser.add_argument(
        "--client",
        choices=["wrk", "python"],
        default="wrk" if WRK else "python",
        help="load generator for the GET scenarios (wrk when installed: apt-get install wrk)",
    )
    parser.add_argument("--pool", type=int, default=20, help="server database pool size")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
