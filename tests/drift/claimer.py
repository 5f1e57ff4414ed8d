"""A scheduler process for the claim tests: waits until a given instant, then runs the drift
scheduler's ticks until a round claims nothing, and prints what it claimed as JSON.

    python -m tests.drift.claimer <unix time to start at>
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from app.config import get_settings
from app.db import engine as db_engine
from app.db import get_engine
from app.drift.scheduler import tick
from app.lib import runtime
from app.lib.gate import make_gate


async def main(start_at: float) -> None:
    settings = get_settings()
    engine = get_engine()
    await db_engine.start(engine, settings)
    bound = runtime.bind(runtime.Runtime(gate=make_gate(None, settings.redis.prefix, None)))
    claimed = started = skipped = 0
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        began = time.monotonic()
        while True:
            report = await tick(settings)
            claimed, started, skipped = (
                claimed + report.claimed,
                started + report.started,
                skipped + report.skipped,
            )
            if not report.claimed:
                break
    finally:
        runtime.unbind(bound)
        await db_engine.stop(engine)
    seconds = round(time.monotonic() - began, 3)
    print(json.dumps({"claimed": claimed, "started": started, "skipped": skipped, "seconds": seconds}))


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1])))
