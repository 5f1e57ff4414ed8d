"""Benchmark of the request gate's one Redis call per request: Board3's pipelined connection
against the same script through redis-py (what the gate used before).

    .venv/bin/python bench/gate.py [--calls 40000] [--concurrency 32]

Each call is the gate's admit script with two generation tokens (what a design read asks for),
made by ``concurrency`` tasks at once on uvloop, as ``board3 serve`` runs. Prints calls/s and the
wall time per call; the process is CPU-bound, so the latter is mostly the client's CPU per call.
Uses the key prefix ``b3gatebench<run>`` on BENCH_REDIS_URL (default redis://127.0.0.1:6379/14)
and deletes it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from app.lib.ratelimit import ADMIT_SCRIPT, GENERATION_TTL_SECONDS, RedisGate

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


async def drive(call: Callable[[], Awaitable[object]], calls: int, concurrency: int) -> float:
    async def worker(n: int) -> None:
        for _ in range(n):
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
    return time.perf_counter() - start


async def run(args: argparse.Namespace) -> None:
    prefix = f"b3gatebench{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(REDIS_URL)
    gate = RedisGate(redis, prefix, REDIS_URL)
    generations = (f"design:{uuid.uuid4()}", f"org:{uuid.uuid4()}")
    keys = [f"{prefix}:rl:bench", "", *(f"{prefix}:gen:{g}" for g in generations)]
    script = redis.register_script(ADMIT_SCRIPT)
    try:
        calls = (args.calls // args.concurrency) * args.concurrency
        scenarios: dict[str, Callable[[], Awaitable[object]]] = {
            "redis-py (pooled connection)": lambda: script(keys=keys, args=[60, "token"]),
            "board3 pipelined connection": lambda: gate.admit("bench", 10**9, 60, None, generations),
        }
        print(
            f"gate admit script, {calls} calls, {args.concurrency} concurrent callers, uvloop, "
            f"generation TTL {GENERATION_TTL_SECONDS} s"
        )
        print(f"{'client':<32}{'calls/s':>10}{'us/call':>10}")
        for name, call in scenarios.items():
            await drive(call, calls // 10, args.concurrency)  # warm up
            seconds = await drive(call, calls, args.concurrency)
            print(f"{name:<32}{calls / seconds:>10.0f}{seconds / calls * 1e6:>10.1f}")
    finally:
        found = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if found:
            await redis.delete(*found)
        await gate.close()
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=40000)
    parser.add_argument("--concurrency", type=int, default=32)
    import uvloop

    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
