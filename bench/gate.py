"""Benchmark of the request gate's one Redis call per request: Board3's pipelined connection
against the same script through redis-py (what the gate used before).

    .venv/bin/python bench/gate.py [--calls 40000] [--concurrency 32]

Each call is the gate's admit script with two generation tokens (what a design read asks for):
through redis-py (what the gate used before), through the pipelined connection, and the whole of
``RedisGate.admit`` (the script plus building keys and the answer), for an API key (no revocation
mark) and for a session (its mark and the marks' epoch checked too, as for every JWT request),
made by ``concurrency`` tasks at once on uvloop, as ``board3 serve`` runs. Prints calls/s, wall
time per call (bounded by Redis running the script, which shares the machine) and this process's
CPU per call: what each request costs a ``board3 serve`` process.
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

from app.lib.gate import ADMIT_SCRIPT, GENERATION_TTL_SECONDS, RedisGate
from app.lib.redis_pipe import PipelinedRedis, Script

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


async def drive(call: Callable[[], Awaitable[object]], calls: int, concurrency: int) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds for ``calls`` calls."""

    async def worker(n: int) -> None:
        for _ in range(n):
            await call()

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
    return time.perf_counter() - start, time.process_time() - cpu


async def run(args: argparse.Namespace) -> None:
    prefix = f"b3gatebench{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(REDIS_URL)
    gate = RedisGate(redis, prefix, REDIS_URL)
    generations = (f"design:{uuid.uuid4()}", f"org:{uuid.uuid4()}")
    # counter, revocation mark and marks' epoch (none for an API key), generation tokens
    keys = [f"{prefix}:rl:bench", "", "", *(f"{prefix}:gen:{g}" for g in generations)]
    script = redis.register_script(ADMIT_SCRIPT)
    session = f"session:{uuid.uuid4()}"
    try:
        await gate.restore_marks({})  # the epoch exists, as on a Redis that has not lost its data
        calls = (args.calls // args.concurrency) * args.concurrency
        pipe, pipe_script = PipelinedRedis(REDIS_URL), Script(ADMIT_SCRIPT)
        scenarios: dict[str, Callable[[], Awaitable[object]]] = {
            "script via redis-py (pooled)": lambda: script(keys=keys, args=[60, "token"]),
            "script via pipelined connection": lambda: pipe.evalsha(pipe_script, keys, [60, "token"]),
            "RedisGate.admit (all of it)": lambda: gate.admit("bench", 10**9, 60, None, generations),
            "RedisGate.admit, session": lambda: gate.admit("bench", 10**9, 60, session, generations),
        }
        print(
            f"gate admit script, {calls} calls, {args.concurrency} concurrent callers, uvloop, "
            f"generation TTL {GENERATION_TTL_SECONDS} s"
        )
        print(f"{'client':<32}{'calls/s':>10}{'wall us/call':>14}{'client CPU us/call':>20}")
        for name, call in scenarios.items():
            await drive(call, calls // 10, args.concurrency)  # warm up
            seconds, cpu = await drive(call, calls, args.concurrency)
            print(
                f"{name:<32}{calls / seconds:>10.0f}{seconds / calls * 1e6:>14.1f}{cpu / calls * 1e6:>20.1f}"
            )
    finally:
        found = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if found:
            await redis.delete(*found)
        await pipe.close()
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
