"""Drift checks end to end: real terraform, the sandbox provider changed out of band, a real server
and real workers (PostgreSQL and Redis), everything through HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid

import asyncpg
import pytest

from tests.drift.support import by_address, cloud_id, run_check, sandbox, start_check, wait_check
from tests.pipelines.support import Client, Stack, register

pytestmark = pytest.mark.slow


def site_canvas(tag: str, *, secret: str = "") -> dict:
    """A network and subnet, a load balancer listening on 443, a bucket, and a second bucket whose
    tags come from a sensitive variable. ``tag`` makes names unique in the shared sandbox cloud."""
    t = {"t": tag}
    return {
        "nodes": [
            {
                "id": "net",
                "type": "sandbox_network",
                "name": "main",
                "properties": {"cidr_block": "10.0.0.0/16", "tags": t},
            },
            {
                "id": "sub",
                "type": "sandbox_subnet",
                "name": "web",
                "properties": {"cidr_block": "10.0.1.0/24", "tags": t},
                "parent": "net",
            },
            {
                "id": "lb",
                "type": "sandbox_load_balancer",
                "name": "site",
                "properties": {"listener_port": 443, "tags": t},
            },
            {
                "id": "bkt",
                "type": "sandbox_bucket",
                "name": "assets",
                "properties": {"name": f"assets-{tag}", "tags": t},
            },
            {
                "id": "vault",
                "type": "sandbox_bucket",
                "name": "vault",
                "properties": {"name": f"vault-{tag}"},
            },
            {
                "id": "labels",
                "type": "variable",
                "name": "labels",
                "properties": {
                    "type": "map(string)",
                    "sensitive": True,
                    "default": {"t": tag, "owner": secret or f"owner-{tag}"},
                },
            },
        ],
        "edges": [
            {"source": "sub", "target": "net"},
            {"source": "lb", "target": "sub", "attribute": "subnet_ids"},
            {"source": "vault", "target": "labels", "attribute": "tags"},
        ],
    }


def applied_site(running: Stack, prefix: str, **canvas: str) -> tuple[Client, str, dict, str]:
    c = register(running.url, prefix)
    tag = uuid.uuid4().hex[:10]
    design = c.design(site_canvas(tag, **canvas))
    pipeline = c.pipeline(design, "prod", auto_apply=True)
    assert c.apply(pipeline["id"])["status"] == "applied"
    return c, design, pipeline, tag


def test_no_drift_then_a_changed_attribute_a_deleted_resource_and_a_sensitive_attribute(
    running: Stack,
) -> None:
    secret = f"s3cret-{uuid.uuid4().hex}"
    c, design, pipeline, tag = applied_site(running, "drift", secret=secret)

    clean = run_check(c, pipeline["id"])
    assert clean["status"] == "no_drift" and clean["trigger"] == "manual"
    assert clean["resources"] == [] and clean["counts"]["drifted"] == 0
    assert clean["design_version"] == 1 and clean["links"]["accept"] is None
    assert clean["difference"] == {"new": [], "still_drifted": [], "resolved": []}
    execution = c.execution(clean["execution_id"])
    assert execution["operation"] == "drift" and execution["status"] == "planned_and_finished"
    # Nothing drifted: the refresh-only plan's own output says so, and nothing more runs.
    assert [s["name"] for s in execution["stages"]] == ["prepare", "init", "refresh-only"]

    # Someone at the console: a port changed, a bucket deleted, a sensitive tag and an acl changed.
    lb = cloud_id(running, "sandbox_load_balancer", tags={"t": tag})
    sandbox(running, "set", lb, "listener_port=8443")
    sandbox(running, "delete", cloud_id(running, "sandbox_bucket", name=f"assets-{tag}"))
    vault = cloud_id(running, "sandbox_bucket", name=f"vault-{tag}")
    sandbox(
        running, "set", vault, "tags=" + json.dumps({"t": tag, "owner": "someone else"}), "acl=public-read"
    )

    started = start_check(c, pipeline["id"])
    assert started["status"] in ("pending", "running")
    found = wait_check(c, started["id"])
    assert found["status"] == "drifted", c.log(found["execution_id"])
    assert found["counts"] == {
        "drifted": 3,
        "changed": 2,
        "deleted": 1,
        "attributes": 3,
        "will_be_reverted": 3,
    }
    resources = by_address(found)
    assert set(resources) == {"sandbox_load_balancer.site", "sandbox_bucket.assets", "sandbox_bucket.vault"}
    port = resources["sandbox_load_balancer.site"]
    assert (port["action"], port["node_id"], port["effect"]) == ("update", "lb", "will_be_reverted")
    assert port["attributes"] == [
        {
            "name": "listener_port",
            "before": 443,
            "after": 8443,
            "sensitive": False,
            "effect": "will_be_reverted",
            "affects_plan": False,
        }
    ]
    deleted = resources["sandbox_bucket.assets"]
    assert (deleted["action"], deleted["node_id"], deleted["effect"]) == ("delete", "bkt", "will_be_reverted")
    attributes = {a["name"]: a for a in resources["sandbox_bucket.vault"]["attributes"]}
    assert attributes["acl"]["before"] == "private" and attributes["acl"]["after"] == "public-read"
    assert attributes["acl"]["effect"] == "state_only"  # the design does not set it
    tags = attributes["tags"]
    assert tags["sensitive"] is True and tags["effect"] == "will_be_reverted"
    assert tags["before"] == "(sensitive value)" and tags["after"] == "(sensitive value)"
    # Sensitive values never leave: not in the check, its execution, its log, nor the events.
    assert found["previous_check_id"] == clean["id"]
    assert [f["address"] for f in found["difference"]["new"]] == sorted(resources)
    stages = [s["name"] for s in c.execution(found["execution_id"])["stages"]]
    assert stages == ["prepare", "init", "refresh-only", "plan", "show"]
    log = c.log(found["execution_id"])
    assert "sandbox_load_balancer.site: listener_port 443 -> 8443 (the next apply puts it back)" in log
    assert "sandbox_bucket.assets: deleted outside Terraform" in log
    revealing = json.dumps([found, c.execution(found["execution_id"])]) + log
    assert secret not in revealing and "someone else" not in revealing

    links = found["links"]
    assert links["accept"]["href"] == f"/api/v1/drift-checks/{found['id']}/accept"
    assert links["revert"] == {
        "method": "POST",
        "href": f"/api/v1/pipelines/{pipeline['id']}/executions",
        "body": {"operation": "apply", "version": 1},
    }
    glance = c.ok("GET", f"/api/v1/pipelines/{pipeline['id']}")["drift"]
    assert glance["check_id"] == found["id"] and glance["status"] == "drifted" and glance["drifted"] == 3
    environments = c.ok("GET", f"/api/v1/designs/{design}")["environments"]
    assert environments[0]["drift"] == glance

    # Put the port back by hand: resolved; the rest is still drifted.
    sandbox(running, "set", lb, "listener_port=443")
    again = run_check(c, pipeline["id"])
    assert again["status"] == "drifted" and again["previous_check_id"] == found["id"]
    difference = again["difference"]
    assert [f["address"] for f in difference["resolved"]] == ["sandbox_load_balancer.site"]
    assert [f["address"] for f in difference["still_drifted"]] == [
        "sandbox_bucket.assets",
        "sandbox_bucket.vault",
    ]
    assert difference["new"] == []
    history = c.ok("GET", f"/api/v1/pipelines/{pipeline['id']}/drift-checks")["items"]
    assert [h["id"] for h in history] == [again["id"], found["id"], clean["id"]]
    drifted = c.ok("GET", f"/api/v1/pipelines/{pipeline['id']}/drift-checks?status=drifted")["items"]
    assert [h["id"] for h in drifted] == [again["id"], found["id"]]

    # Revert: an ordinary apply of the checked version puts everything back.
    revert = c.ok("POST", links["revert"]["href"], 202, json=links["revert"]["body"])
    assert c.wait(revert["id"], "applied")["status"] == "applied"
    fixed = run_check(c, pipeline["id"])
    assert fixed["status"] == "no_drift"
    assert {f["address"] for f in fixed["difference"]["resolved"]} == {
        "sandbox_bucket.assets",
        "sandbox_bucket.vault",
    }


def test_accepting_drift_makes_a_plan_of_the_new_version_clean(running: Stack) -> None:
    c, _, pipeline, tag = applied_site(running, "accept")
    sandbox(running, "set", cloud_id(running, "sandbox_load_balancer", tags={"t": tag}), "listener_port=8443")
    bucket = cloud_id(running, "sandbox_bucket", name=f"assets-{tag}")
    sandbox(running, "set", bucket, "tags=" + json.dumps({"t": tag, "team": "web"}), "versioning=true")
    found = run_check(c, pipeline["id"])
    assert found["status"] == "drifted" and found["counts"]["drifted"] == 2

    accepted = c.ok("POST", found["links"]["accept"]["href"], 201, json={})
    assert accepted["version"]["number"] == 2 and accepted["valid"] is True
    assert sorted((a["node_id"], a["attribute"], a["value"]) for a in accepted["accepted"]) == [
        ("bkt", "tags", {"t": tag, "team": "web"}),
        ("bkt", "versioning", True),
        ("lb", "listener_port", 8443),
    ]
    # A normal plan of the new version: the accepted resources need no change.
    plan = c.start(pipeline["id"], "plan", version=2)
    planned = c.wait(plan["id"], "planned_and_finished")
    assert planned["plan"]["has_changes"] is False, planned["plan"]
    assert planned["plan"]["counts"] == {"add": 0, "change": 0, "destroy": 0, "replace": 0}
    # Applying it has nothing to do; checks now compare with it: nothing would be reverted (the
    # state keeps the old values until an apply changes something, so the drift is state only).
    assert c.apply(pipeline["id"])["status"] == "planned_and_finished"
    after = run_check(c, pipeline["id"])
    assert after["design_version"] == 2 and after["counts"]["will_be_reverted"] == 0


@pytest.mark.skipif("DATABASE_URL" not in os.environ, reason="makes the schedule due in PostgreSQL")
def test_a_due_schedule_is_checked_by_the_workers(running: Stack) -> None:
    c, _, pipeline, _ = applied_site(running, "sched")
    c.ok("PATCH", f"/api/v1/pipelines/{pipeline['id']}", json={"drift_schedule": "1h"})
    asyncio.run(make_due(running, pipeline["id"]))
    deadline = time.monotonic() + 90
    while True:  # the workers' upkeep ticks every 5 s: it claims it, a worker records and runs it
        items = c.ok("GET", f"/api/v1/pipelines/{pipeline['id']}/drift-checks")["items"]
        if items and items[0]["status"] not in ("pending", "running"):
            break
        assert time.monotonic() < deadline, items
        time.sleep(0.5)
    (scheduled,) = items
    assert scheduled["trigger"] == "schedule" and scheduled["status"] == "no_drift"
    assert scheduled["created_by"] == "board3:drift-schedule"
    after = c.ok("GET", f"/api/v1/pipelines/{pipeline['id']}")
    assert after["drift"]["check_id"] == scheduled["id"]
    assert after["next_drift_check_at"] > scheduled["created_at"]


async def make_due(running: Stack, pipeline_id: str) -> None:
    """The pipeline's next check is due now (as if an hour had passed)."""
    conn = await asyncpg.connect(running.env["DATABASE_URL"])
    try:
        await conn.execute(
            "UPDATE pipelines SET next_drift_check_at = now() - interval '1 second' WHERE id = $1",
            uuid.UUID(pipeline_id),
        )
    finally:
        await conn.close()
