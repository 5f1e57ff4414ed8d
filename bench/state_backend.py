"""Benchmark of the Terraform state backend against a real `board3 serve` in production mode.

    .venv/bin/python bench/state_backend.py [--quick] [--locks]

Creates a PostgreSQL database and a Redis key prefix of its own (both removed at the end), migrates
the database, starts `board3 serve` on a free port with DATABASE_URL and REDIS_URL, and prints:
  * POST then GET of valid states of 100 KB, 1 MB, 10 MB and 50 MB: median latencies, MB/s, and
    the server's peak RSS during the POST (VmHWM of the process, reset before each request);
  * the floor: PostgreSQL alone (asyncpg) writing and reading the same bytes in a bytea column;
  * LOCK+UNLOCK pairs per second from 1 client and from 64 concurrent clients;
  * 64-way lock races (64 concurrent LOCKs on one state, exactly one winner, then UNLOCK):
    seconds per round in production mode and in embedded mode (SQLite, a second server);
  * `terraform apply` of 200 terraform_data resources through Board3 vs the local backend.
Targets: 50 MB round trip <= 1.5x the PostgreSQL floor; apply ratio <= 1.2; memory growth during a
50 MB POST < 4x the state size; >= 400 LOCK+UNLOCK pairs/s from one client; embedded race rounds
within 3x of production. ``--locks`` measures only the lock figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.designs import Connection  # noqa: E402
from tests.states.support import basic, register_with_key, state_doc  # noqa: E402
from tests.states.terraform import Workspace, backend_block  # noqa: E402
from tests.support.cleanup import clear_redis  # noqa: E402
from tests.support.server import BOARD3, LiveServer  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
MB = 1024 * 1024
SIZES = [("100 KB", 100 * 1024, 15), ("1 MB", MB, 9), ("10 MB", 10 * MB, 5), ("50 MB", 50 * MB, 3)]


def make_state(target: int, serial: int = 1, lineage: str | None = None) -> bytes:
    """A valid Terraform state of about ``target`` bytes made of terraform_data resources holding
    random values (so it compresses like real data, not like repeated text)."""
    count = max(1, target // 560)  # bytes per resource, as state_doc formats it
    return state_doc(
        serial, lineage or str(uuid.uuid4()), resources=count, value=lambda _: os.urandom(24).hex()
    )


def with_serial(body: bytes, serial: int) -> bytes:
    """Same document, another serial (the header is at the top: a cheap byte replacement)."""
    head, sep, tail = body.partition(b'"serial": ')
    rest = tail[tail.index(b",") :]
    return head + sep + str(serial).encode() + rest


class Memory:
    """Peak RSS of a process: VmHWM, reset through /proc/<pid>/clear_refs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def _field(self, name: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
        return 0

    def rss(self) -> int:
        return self._field("VmRSS")

    def reset_peak(self) -> None:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def peak(self) -> int:
        return self._field("VmHWM")


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def pg_floor(url: str, body: bytes, rounds: int) -> tuple[float, float]:
    """Median seconds for PostgreSQL alone to INSERT and to SELECT the same bytes."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (id serial PRIMARY KEY, data bytea)")
        writes, reads = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            row_id = await conn.fetchval("INSERT INTO bench_floor (data) VALUES ($1) RETURNING id", body)
            writes.append(time.perf_counter() - t)
            t = time.perf_counter()
            data = await conn.fetchval("SELECT data FROM bench_floor WHERE id = $1", row_id)
            reads.append(time.perf_counter() - t)
            assert len(data) == len(body)
        await conn.execute("TRUNCATE bench_floor")
        return statistics.median(writes), statistics.median(reads)
    finally:
        await conn.close()


def bench_sizes(server: LiveServer, db_url: str, org: str, key: str, quick: bool) -> list[dict]:
    auth = httpx.BasicAuth("bench", key)
    memory = Memory(server.process.pid if server.process else 0)
    results = []
    with httpx.Client(auth=auth, timeout=300) as http:
        for label, size, rounds in SIZES:
            rounds = min(rounds, 2) if quick else rounds
            name = f"size-{label.replace(' ', '').lower()}"
            url = f"{server.url}/tf/{org}/{name}"
            base = make_state(size)
            posts, gets, peaks = [], [], []
            for serial in range(1, rounds + 1):
                body = with_serial(base, serial)
                baseline = memory.rss()
                memory.reset_peak()
                t = time.perf_counter()
                r = http.post(url, content=body, headers={"Content-Type": "application/json"})
                posts.append(time.perf_counter() - t)
                peaks.append((memory.peak(), baseline))
                assert r.status_code == 200, r.text
                t = time.perf_counter()
                got = http.get(url)
                gets.append(time.perf_counter() - t)
                assert got.status_code == 200 and got.content == body
            floor_w, floor_r = asyncio.run(pg_floor(db_url, base, rounds))
            post, get = statistics.median(posts), statistics.median(gets)
            peak, baseline = max(peaks, key=lambda p: p[0] - p[1])
            results.append(
                {
                    "label": label,
                    "bytes": len(base),
                    "post": post,
                    "get": get,
                    "round_trip": post + get,
                    "mb_s": 2 * len(base) / MB / (post + get),
                    "peak_rss": peak,
                    "baseline_rss": baseline,
                    "floor": floor_w + floor_r,
                    "floor_w": floor_w,
                    "floor_r": floor_r,
                }
            )
    return results


async def _lock_pairs(url: str, org: str, key: str, clients: int, pairs: int, client: str = "raw") -> float:
    """LOCK+UNLOCK pairs per second, each client on its own keep-alive connection. ``raw`` is a
    minimal HTTP/1.1 client (bench/designs.py's) costing a few tens of microseconds per request, so
    the figure is the server's; ``httpx`` costs about 1 ms of client CPU per request here."""
    port = int(url.rsplit(":", 1)[1])
    headers = {**basic(key, "bench"), "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:

        async def one_client(i: int) -> None:
            path = f"/tf/{org}/locks-{clients}-{i}/lock"
            conn = Connection(port)
            try:
                for _ in range(pairs):
                    info = b'{"ID":"%s","Operation":"OperationTypePlan","Who":"bench%d"}' % (
                        uuid.uuid4().hex.encode(),
                        i,
                    )
                    for method in ("LOCK", "UNLOCK"):
                        if client == "raw":
                            status, text = await conn.request(method, path, headers, info)
                        else:
                            r = await http.request(method, url + path, content=info, headers=headers)
                            status, text = r.status_code, r.content
                        assert status == 200, text
            finally:
                conn.close()

        await one_client(-1)  # create the states before timing
        t = time.perf_counter()
        await asyncio.gather(*(one_client(i) for i in range(clients)))
        return clients * pairs / (time.perf_counter() - t)


async def _race_rounds(url: str, org: str, key: str, contenders: int, rounds: int) -> float:
    """Median seconds of one round: ``contenders`` concurrent LOCKs on one state (exactly one wins,
    the others get 423), then the winner's UNLOCK. Each contender has its own connection."""
    port = int(url.rsplit(":", 1)[1])
    headers = {**basic(key, "bench"), "Content-Type": "application/json"}
    path = f"/tf/{org}/race-{uuid.uuid4().hex[:8]}/lock"
    conns = [Connection(port) for _ in range(contenders)]

    async def attempt(conn: Connection) -> tuple[bytes, int]:
        info = b'{"ID":"%s","Operation":"OperationTypeApply","Who":"bench"}' % uuid.uuid4().hex.encode()
        status, _ = await conn.request("LOCK", path, headers, info)
        return info, status

    times = []
    try:
        for round_no in range(rounds + 1):  # round 0 creates the state and opens the connections
            t = time.perf_counter()
            results = await asyncio.gather(*(attempt(conn) for conn in conns))
            winners = [info for info, status in results if status == 200]
            assert len(winners) == 1 and all(s in (200, 423) for _, s in results), results
            status, text = await conns[0].request("UNLOCK", path, headers, winners[0])
            assert status == 200, text
            if round_no:
                times.append(time.perf_counter() - t)
    finally:
        for conn in conns:
            conn.close()
    return statistics.median(times)


def bench_locks(server: LiveServer, org: str, key: str, quick: bool) -> dict[str, Any]:
    # One client is the figure most exposed to other load on the machine: the median of 5 runs.
    runs = [asyncio.run(_lock_pairs(server.url, org, key, 1, 50 if quick else 500)) for _ in range(5)]
    return {
        "pairs_one": statistics.median(runs),
        "pairs_one_runs": runs,
        "pairs_one_httpx": asyncio.run(_lock_pairs(server.url, org, key, 1, 50 if quick else 300, "httpx")),
        "pairs_many": asyncio.run(_lock_pairs(server.url, org, key, 64, 3 if quick else 10)),
        "race": asyncio.run(_race_rounds(server.url, org, key, 64, 3 if quick else 10)),
    }


def embedded_race(quick: bool) -> float:
    """The 64-way race against a `board3 serve` in embedded mode (SQLite, memory stores)."""
    data_dir = tempfile.mkdtemp(prefix="board3-bench-embedded-")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "BOARD3_DATA_DIR": data_dir,
        "BOARD3_LOG_LEVEL": "WARNING",
        "BOARD3_RATE_LIMIT_API": "10000000",
        "BOARD3_RATE_LIMIT_AUTH": "100000",
        "BOARD3_SANDBOX": "false",
    }
    server = None
    try:
        subprocess.run([str(BOARD3), "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
        server = LiveServer(env)
        server.start()
        org, key = register_with_key(server.url, "bench")
        return asyncio.run(_race_rounds(server.url, org, key, 64, 3 if quick else 10))
    finally:
        if server is not None:
            server.stop()
            server.log_path.unlink(missing_ok=True)
        shutil.rmtree(data_dir, ignore_errors=True)


def terraform_config(count: int) -> str:
    return "\n".join(f'resource "terraform_data" "r{i}" {{\n  input = "value-{i}"\n}}' for i in range(count))


def bench_apply(server: LiveServer, org: str, key: str, runs: int) -> tuple[float, float]:
    def timed(ws: Workspace) -> float:
        t = time.perf_counter()
        ws.apply("-parallelism=10")
        return time.perf_counter() - t

    local_times, board3_times = [], []
    for run in range(runs):
        local = Workspace()
        remote = Workspace()
        try:
            local.write(terraform_config(200))
            local.run("init", "-input=false", "-no-color")
            remote.write(
                backend_block(server.url, org, f"apply-{run}-{uuid.uuid4().hex[:6]}") + terraform_config(200)
            )
            remote.init(key)
            local_times.append(timed(local))
            board3_times.append(timed(remote))
        finally:
            local.cleanup()
            remote.cleanup()
    return statistics.median(local_times), statistics.median(board3_times)


def report_sizes(sizes: list[dict]) -> None:
    print("\nstate POST then GET (median)                          server memory during POST")
    print(
        f"{'size':>7} {'POST s':>8} {'GET s':>8} {'round s':>8} {'MB/s':>7} {'PG floor s':>10} "
        f"{'ratio':>6}   {'base RSS':>9} {'peak RSS':>9} {'growth':>7}"
    )
    for r in sizes:
        growth = r["peak_rss"] - r["baseline_rss"]
        print(
            f"{r['label']:>7} {r['post']:8.3f} {r['get']:8.3f} {r['round_trip']:8.3f} {r['mb_s']:7.1f} "
            f"{r['floor']:10.3f} {r['round_trip'] / r['floor']:6.2f}   {r['baseline_rss'] / MB:7.0f}MB "
            f"{r['peak_rss'] / MB:7.0f}MB {growth / r['bytes']:6.2f}x"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--locks", action="store_true", help="only the lock figures (both modes)")
    args = parser.parse_args()
    if not args.locks and not shutil.which("terraform"):
        print("terraform is not on PATH", file=sys.stderr)
        return 2
    name = f"board3_bench_{uuid.uuid4().hex[:8]}"
    db_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    data_dir = tempfile.mkdtemp(prefix="board3-bench-")
    prefix = f"b3bench{uuid.uuid4().hex[:6]}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": db_url,
        "REDIS_URL": REDIS_URL,
        "BOARD3_REDIS_PREFIX": prefix,
        "BOARD3_DATA_DIR": data_dir,
        "BOARD3_LOG_LEVEL": "WARNING",
        "BOARD3_RATE_LIMIT_API": "10000000",
        "BOARD3_RATE_LIMIT_AUTH": "100000",
        "BOARD3_JWT_SECRET": "bench-" + "x" * 40,
    }
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    server = None
    checks: list[tuple[str, bool]] = []
    try:
        subprocess.run([str(BOARD3), "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
        server = LiveServer(env)
        server.start()
        org, key = register_with_key(server.url, "bench")
        print(f"board3 serve (production mode: PostgreSQL + Redis), pid {server.process.pid}", flush=True)
        if not args.locks:
            sizes = bench_sizes(server, db_url, org, key, args.quick)
            report_sizes(sizes)
            big = sizes[-1]
            checks += [
                ("50 MB round trip <= 1.5x PostgreSQL floor", big["round_trip"] / big["floor"] <= 1.5),
                (
                    "memory growth during 50 MB POST < 4x",
                    (big["peak_rss"] - big["baseline_rss"]) / big["bytes"] < 4,
                ),
            ]
        locks = bench_locks(server, org, key, args.quick)
        one, many = locks["pairs_one"], locks["pairs_many"]
        runs = ", ".join(f"{r:.0f}" for r in locks["pairs_one_runs"])
        print(
            f"\nLOCK+UNLOCK pairs/s: 1 client {one:.0f} (median of {runs}; through httpx: "
            f"{locks['pairs_one_httpx']:.0f}), 64 clients {many:.0f}"
        )
        server.stop()
        server.log_path.unlink(missing_ok=True)
        server = None
        embedded = embedded_race(args.quick)
        print(
            f"64-way lock race, median s per round: production {locks['race']:.3f}, "
            f"embedded (SQLite) {embedded:.3f}, ratio {embedded / locks['race']:.2f}"
        )
        checks += [
            (">= 400 LOCK+UNLOCK pairs/s from one client", locks["pairs_one"] >= 400),
            ("embedded race rounds within 3x of production", embedded <= 3 * locks["race"]),
        ]
        if not args.locks:
            server = LiveServer(env)
            server.start()
            local, board3 = bench_apply(server, org, key, 1 if args.quick else 3)
            print(
                f"terraform apply, 200 terraform_data (median): local backend {local:.2f}s, "
                f"Board3 {board3:.2f}s, ratio {board3 / local:.2f}"
            )
            checks.append(("apply ratio <= 1.2", board3 / local <= 1.2))
        print()
        for label, ok in checks:
            print(f"{'PASS' if ok else 'MISS'}  {label}")
        return 0 if all(ok for _, ok in checks) else 1
    finally:
        if server is not None:
            server.stop()
            server.log_path.unlink(missing_ok=True)
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(clear_redis(REDIS_URL, prefix))
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
