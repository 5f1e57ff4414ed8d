"""The drift scheduler against the real database: due checks claimed exactly once by two processes,
a missed tick caught up once, schedules armed and re-planned, busy states skipped."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid

from app.config import get_settings
from app.drift.scheduler import claim, job_key, start_claimed, tick
from app.drift.tables import DriftCheck
from app.lib.clock import utcnow
from app.pipelines.tables import Execution, Pipeline
from tests.designs.helpers import create_design
from tests.drift.fabricate import applied
from tests.pipelines.support import data_canvas
from tests.support.server import ROOT


async def pipelines(client, owner, designs: int, environments: int, **options) -> list[str]:
    ids = []
    for _ in range(designs):
        design = await create_design(client, owner, data_canvas(1))
        for e in range(environments):
            r = await client.post(
                f"/api/v1/designs/{design['id']}/pipelines",
                json={"environment": f"env{e}", **options},
                headers=owner.headers,
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
    return ids


async def due(ids: list[str], at: dt.datetime) -> None:
    await Pipeline.update({Pipeline.next_drift_check_at: at}, use_auto_update=False).where(
        Pipeline.id.is_in([uuid.UUID(i) for i in ids])
    )


async def checks_of(ids: list[str]) -> dict[str, list[dict]]:
    rows = await DriftCheck.select().where(DriftCheck.pipeline.is_in([uuid.UUID(i) for i in ids]))
    out: dict[str, list[dict]] = {i: [] for i in ids}
    for row in rows:
        out[str(row["pipeline"])].append(row)
    return out


async def next_due(pipeline_id: str) -> dt.datetime | None:
    row = (
        await Pipeline.select(Pipeline.next_drift_check_at)
        .where(Pipeline.id == uuid.UUID(pipeline_id))
        .first()
    )
    assert row is not None
    return row["next_drift_check_at"]


async def test_due_checks_are_claimed_exactly_once_by_two_scheduler_processes(client, api) -> None:
    owner = await api.register("claims")
    ids = await pipelines(client, owner, designs=8, environments=16, drift_schedule="0 * * * *")
    await due(ids, utcnow() - dt.timedelta(hours=3))
    start_at = time.time() + 3
    env = os.environ | {"BOARD3_LOG_LEVEL": "WARNING"}
    runs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.drift.claimer",
            str(start_at),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    reports = []
    for run in runs:
        out, _ = await asyncio.wait_for(run.communicate(), timeout=120)
        assert run.returncode == 0
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    found = await checks_of(ids)
    assert {pid: len(rows) for pid, rows in found.items()} == dict.fromkeys(ids, 1)
    assert all(rows[0]["trigger"] == "schedule" and rows[0]["status"] == "skipped" for rows in found.values())
    assert sum(r["claimed"] for r in reports) >= len(ids)
    now = utcnow()
    for pid in ids:  # each moved on to its next hour (with its own offset), not left due
        nxt = await next_due(pid)
        assert nxt is not None and now < nxt <= now + dt.timedelta(hours=1, minutes=7)


async def test_a_missed_tick_catches_up_once(client, api) -> None:
    owner = await api.register("catchup")
    (pid,) = await pipelines(client, owner, designs=1, environments=1, drift_schedule="0 * * * *")
    now = utcnow()
    await due([pid], now - dt.timedelta(hours=5))  # the scheduler was down for five hours
    await tick(get_settings(), now=now)
    assert len((await checks_of([pid]))[pid]) == 1
    nxt = await next_due(pid)
    assert nxt is not None and now < nxt <= now + dt.timedelta(hours=1, minutes=7)
    await tick(get_settings(), now=now + dt.timedelta(seconds=5))
    assert len((await checks_of([pid]))[pid]) == 1


async def test_schedules_are_armed_re_planned_when_changed_and_dropped_when_removed(client, api) -> None:
    owner = await api.register("arming")
    (pid,) = await pipelines(client, owner, designs=1, environments=1, drift_schedule="6h")
    assert await next_due(pid) is None
    now = utcnow()
    await tick(get_settings(), now=now)
    first = await next_due(pid)
    assert first is not None and now < first <= now + dt.timedelta(hours=6)
    r = await client.patch(
        f"/api/v1/pipelines/{pid}", json={"drift_schedule": "0 3 * * *"}, headers=owner.headers
    )
    assert r.status_code == 200 and r.json()["next_drift_check_at"] is None
    await tick(get_settings(), now=now)
    second = await next_due(pid)
    assert second is not None and second.astimezone(dt.UTC).hour == 3  # 03:00 plus up to 15 minutes
    r = await client.patch(f"/api/v1/pipelines/{pid}", json={"drift_schedule": None}, headers=owner.headers)
    await tick(get_settings(), now=now)
    assert await next_due(pid) is None and (await checks_of([pid]))[pid] == []


async def test_a_scheduled_check_is_skipped_while_the_state_is_busy_and_takes_it_when_free(
    client, api
) -> None:
    owner = await api.register("busy")
    (pid,) = await pipelines(client, owner, designs=1, environments=1, drift_schedule="1h")
    await applied(pid)
    r = await client.post(
        f"/api/v1/pipelines/{pid}/executions", json={"operation": "apply"}, headers=owner.headers
    )
    apply = r.json()
    assert apply["status"] == "queued"
    now = utcnow()
    await due([pid], now - dt.timedelta(seconds=1))
    await tick(get_settings(), now=now)
    (skipped,) = (await checks_of([pid]))[pid]
    assert skipped["status"] == "skipped" and skipped["execution_id"] is None
    assert "in use by execution #1 (apply, queued)" in skipped["reason"]
    assert (await next_due(pid) or now) > now  # rescheduled, not retried at once
    pipeline = (await client.get(f"/api/v1/pipelines/{pid}", headers=owner.headers)).json()
    assert pipeline["drift"]["status"] == "skipped" and pipeline["drift"]["check_id"] == str(skipped["id"])

    await client.post(f"/api/v1/executions/{apply['id']}/cancel", headers=owner.headers)
    later = now + dt.timedelta(seconds=10)
    await due([pid], later - dt.timedelta(seconds=1))
    await tick(get_settings(), now=later)
    ran = [c for c in (await checks_of([pid]))[pid] if c["status"] != "skipped"]
    assert len(ran) == 1 and ran[0]["status"] == "pending" and ran[0]["trigger"] == "schedule"
    execution = await Execution.select().where(Execution.id == ran[0]["execution_id"]).first()
    assert execution["operation"] == "drift" and execution["status"] == "queued" and execution["active"]
    r = await client.post(f"/api/v1/executions/{execution['id']}/cancel", headers=owner.headers)
    assert r.status_code == 200


async def test_a_claim_handed_over_twice_records_one_check_and_a_stale_one_none(client, api) -> None:
    owner = await api.register("twice")
    first, second = await pipelines(client, owner, designs=1, environments=2, drift_schedule="1h")
    now = utcnow()
    await due([first, second], now - dt.timedelta(seconds=1))
    leased, claimed = await claim(now)
    assert {uuid.UUID(first), uuid.UUID(second)} <= set(claimed)
    key = job_key(leased, [uuid.UUID(first)])
    outcomes = await asyncio.gather(start_claimed(key, get_settings()), start_claimed(key, get_settings()))
    # One records a (skipped: nothing applied) check, the other finds the lease gone.
    assert sorted((o.started, o.skipped) for o in outcomes) == [(0, 0), (0, 1)]
    assert len((await checks_of([first]))[first]) == 1
    # The schedule changed after the claim: the claim's job records nothing.
    r = await client.patch(
        f"/api/v1/pipelines/{second}", json={"drift_schedule": "6h"}, headers=owner.headers
    )
    assert r.status_code == 200
    stale = await start_claimed(job_key(leased, [uuid.UUID(second)]), get_settings())
    assert (stale.started, stale.skipped) == (0, 0)
    assert (await checks_of([second]))[second] == []
    nonsense = await start_claimed("not-a-key", get_settings())
    assert (nonsense.started, nonsense.skipped) == (0, 0)
