"""64 concurrent LOCKs on one state, 100 rounds, across two server processes: exactly one winner."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from tests.states.support import basic, lock_info, unique

pytestmark = pytest.mark.slow

CONTENDERS = 64
ROUNDS = 100


async def test_exactly_one_winner_per_round(live_server, keys):
    servers = [live_server(), live_server()]
    name = unique("race")
    headers = basic(keys.write)
    limits = httpx.Limits(max_connections=CONTENDERS, max_keepalive_connections=CONTENDERS)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:

        async def attempt(i: int, lock_id: str) -> tuple[str, httpx.Response]:
            url = f"{servers[i % 2].url}/tf/{keys.org}/{name}/lock"
            body = lock_info(lock_id, who=f"c{i}")
            return lock_id, await http.request("LOCK", url, json=body, headers=headers)

        for round_no in range(ROUNDS):
            ids = [str(uuid.uuid4()) for _ in range(CONTENDERS)]
            results = await asyncio.gather(*(attempt(i, lock_id) for i, lock_id in enumerate(ids)))
            winners = [lock_id for lock_id, r in results if r.status_code == 200]
            assert len(winners) == 1, (round_no, [r.status_code for _, r in results])
            for lock_id, r in results:
                if lock_id == winners[0]:
                    continue
                assert r.status_code == 423, r.text
                holder = json.loads(r.content)
                assert holder["ID"] == winners[0] and holder["Operation"] == "OperationTypeApply"
            unlock = await http.request(
                "UNLOCK",
                f"{servers[round_no % 2].url}/tf/{keys.org}/{name}/lock",
                json=lock_info(winners[0]),
                headers=headers,
            )
            assert unlock.status_code == 200, unlock.text
