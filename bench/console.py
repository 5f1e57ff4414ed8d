"""Server time of the console's heaviest pages.

    .venv/bin/python bench/console.py [--requests 30] [--nodes 1000] [--lines 10000]

Builds the whole application in this process (embedded mode: SQLite and memory stores in a data
dir of its own, removed at the end), signs a user in through the console's form, and times
requests through the ASGI app (no network, so the figures are the server's own time):
  * the design page of a 1,000-node design (100 networks of 9 subnets and one more): the first
    request, which draws the diagram, and the following ones, which reuse the drawing of that
    immutable version;
  * the execution page of an execution whose log has 10,000 lines, written by the pipelines'
    own ``LogWriter``.
Target: < 200 ms per page (p50 and p95 of the warm requests).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_MS = 200.0
PASSWORD = "correct horse battery staple"


def canvas_of(nodes: int) -> dict[str, Any]:
    """Networks of nine subnets each (nested, as people draw them), ``nodes`` nodes in all."""
    out_nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    net = ""
    for i in range(nodes):
        if i % 10 == 0:
            net = f"net-{i:04d}"
            out_nodes.append(
                {
                    "id": net,
                    "type": "aws_vpc",
                    "name": f"vpc_{i}",
                    "properties": {"cidr_block": "10.0.0.0/16"},
                }
            )
            continue
        sid = f"sub-{i:04d}"
        out_nodes.append(
            {
                "id": sid,
                "type": "aws_subnet",
                "name": f"subnet_{i}",
                "properties": {"cidr_block": f"10.0.{i % 250}.0/24"},
                "parent": net,
            }
        )
        edges.append({"source": sid, "target": net, "attribute": "vpc_id"})
    return {"nodes": out_nodes, "edges": edges}


def summarize(name: str, samples: list[float], first: float) -> bool:
    samples = sorted(samples)
    p50 = statistics.median(samples)
    p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
    ok = p50 < TARGET_MS and p95 < TARGET_MS
    print(
        f"{name:<42} first {first:7.1f} ms   p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   "
        f"max {samples[-1]:7.1f} ms   {'OK' if ok else 'ABOVE TARGET'} (< {TARGET_MS:.0f} ms)"
    )
    return ok


async def run(args: argparse.Namespace) -> int:
    import httpx

    from app.db.migrate import migrate
    from app.main import create_app
    from app.pipelines.logs import LogWriter
    from app.pipelines.masking import Masker
    from app.pipelines.tables import Execution

    await migrate()
    app = create_app()
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.local", timeout=120) as http:
            email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
            r = await http.post(
                "/api/v1/auth/register",
                json={"email": email, "password": PASSWORD, "name": "Bench", "organization": "Bench"},
            )
            body = r.json()
            org, headers = body["organization"]["slug"], {"Authorization": f"Bearer {body['access_token']}"}
            r = await http.post(
                f"/api/v1/orgs/{org}/designs",
                json={"name": "big", "canvas": canvas_of(args.nodes)},
                headers=headers,
            )
            assert r.status_code == 201, r.text
            design = r.json()["id"]
            r = await http.post(
                f"/api/v1/designs/{design}/pipelines", json={"environment": "dev"}, headers=headers
            )
            pipeline = r.json()
            r = await http.post(
                f"/api/v1/pipelines/{pipeline['id']}/executions", json={"operation": "plan"}, headers=headers
            )
            execution = r.json()["id"]
            writer = LogWriter(uuid.UUID(execution), uuid.UUID(body["organization"]["id"]), 0, Masker(()))
            for i in range(args.lines):
                stamp = f"[10:27:{i % 60:02d}.{i % 1000:03d}]"
                writer.write(f"{stamp} sandbox_subnet.web[{i}]: Creation complete [id=subnet-{i:08x}]")
            await writer.flush()
            await Execution.update({Execution.status: "applied"}, use_auto_update=False).where(
                Execution.id == uuid.UUID(execution)
            )

            page = await http.get("/console/sign-in")
            token = re.search(r'name="_csrf" value="([0-9a-f]+)"', page.text)
            assert token is not None
            r = await http.post(
                "/console/sign-in",
                data={"_csrf": token.group(1), "email": email, "password": PASSWORD, "next": "/console"},
            )
            assert r.status_code == 303, r.text

            async def timed(path: str) -> tuple[float, int]:
                start = time.perf_counter()
                response = await http.get(path)
                elapsed = (time.perf_counter() - start) * 1000
                assert response.status_code == 200, (path, response.status_code, response.text[:500])
                return elapsed, len(response.content)

            print(f"console page server time, {args.requests} requests each, embedded mode, in-process ASGI")
            ok = True
            for name, path in (
                (f"design page ({args.nodes} nodes)", f"/console/orgs/{org}/designs/{design}"),
                (f"execution page ({args.lines} log lines)", f"/console/orgs/{org}/executions/{execution}"),
            ):
                first, size = await timed(path)
                samples = [(await timed(path))[0] for _ in range(args.requests)]
                ok = summarize(f"{name}, {size / 1024:.0f} KB", samples, first) and ok
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=10_000)
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="board3-bench-console-")
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "BOARD3_DATA_DIR": data_dir,
            "BOARD3_WORKERS_IN_PROCESS": "false",
            "BOARD3_RATE_LIMIT_API": "1000000",
            "BOARD3_RATE_LIMIT_AUTH": "1000000",
            "BOARD3_LOG_LEVEL": "WARNING",
        }
    )
    try:
        return asyncio.run(run(args))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
