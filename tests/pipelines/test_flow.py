"""Executions end to end: real terraform, the sandbox provider, a real server and real workers
(PostgreSQL and Redis), everything through HTTP."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.pipelines.support import Stack, data_canvas, register, sandbox_canvas

pytestmark = pytest.mark.slow


def sandbox_store(stack: Stack) -> Path:
    return Path(stack.env["BOARD3_DATA_DIR"]) / "sandbox" / "store.sqlite3"


def cloud_ids(stack: Stack) -> set[str]:
    """Ids of every resource in the sandbox cloud (the store terraform's provider writes)."""
    path = sandbox_store(stack)
    if not path.exists():
        return set()
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT id FROM resources")}


def state_resources(client, name: str) -> list[str]:
    return [
        r["address"]
        for r in client.ok("GET", f"/api/v1/orgs/{client.org}/states/{name}/resources")["resources"]
    ]


def test_plan_approve_apply_then_destroy(running: Stack) -> None:
    c = register(running.url, "flow")
    design = c.design(sandbox_canvas())
    pipeline = c.pipeline(design, "dev")
    assert pipeline["state"]["name"] == f"design-{design}-dev"

    ex = c.start(pipeline["id"], "apply")
    assert ex["status"] in ("pending", "queued") and ex["design_version"] == 1 and ex["number"] == 1
    planned = c.wait(ex["id"], "planned")
    assert planned["needs"] == "confirmation"
    assert planned["plan"]["counts"] == {"add": 2, "change": 0, "destroy": 0, "replace": 0}
    changes = {ch["address"]: ch for ch in planned["plan"]["changes"]}
    assert changes["sandbox_network.main"]["action"] == "create"
    assert changes["sandbox_network.main"]["node_id"] == "net"
    assert changes["sandbox_subnet.web"]["after"]["network_id"] == "(known after apply)"
    assert [s["name"] for s in planned["stages"]] == ["prepare", "init", "validate", "plan", "show"]
    assert all(s["status"] == "succeeded" and s["duration_seconds"] is not None for s in planned["stages"])
    # The state is held through the approval wait: a second apply queues behind it.
    second = c.start(pipeline["id"], "apply")
    assert c.execution(second["id"])["status"] == "pending"
    assert c.execution(second["id"])["queue_position"] == 1

    approved = c.ok("POST", f"/api/v1/executions/{ex['id']}/approve")
    assert approved["confirmed_by"] and approved["confirmed_at"]
    applied = c.wait(ex["id"], "applied")
    assert applied["stages"][-1]["name"] == "apply" and applied["stages"][-1]["exit_code"] == 0
    state = c.state(pipeline["state"]["name"])
    assert state["serial"] >= 1 and state["lock"] is None and state["applied_version"] == 1
    assert state["pipeline_id"] == pipeline["id"]
    assert sorted(state_resources(c, pipeline["state"]["name"])) == [
        "sandbox_network.main",
        "sandbox_subnet.web",
    ]
    design_read = c.ok("GET", f"/api/v1/designs/{design}")
    assert design_read["environments"][0]["last_applied_version"] == 1
    assert c.ok("GET", f"/api/v1/pipelines/{pipeline['id']}")["last_applied_version"] == 1

    # The queued apply runs next: nothing changed, so it ends at the plan.
    nothing = c.wait(second["id"], "planned_and_finished")
    assert nothing["plan"]["counts"] == {"add": 0, "change": 0, "destroy": 0, "replace": 0}
    assert "No changes" in c.log(second["id"])

    destroy = c.start(pipeline["id"], "destroy")
    c.wait(destroy["id"], "planned")
    assert c.execution(destroy["id"])["plan"]["counts"]["destroy"] == 2
    c.ok("POST", f"/api/v1/executions/{destroy['id']}/approve")
    c.wait(destroy["id"], "applied")
    assert state_resources(c, pipeline["state"]["name"]) == []

    log = c.log(ex["id"])
    assert "==> plan" in log and "Apply complete! Resources: 2 added" in log
    executions = c.ok("GET", f"/api/v1/pipelines/{pipeline['id']}/executions")["items"]
    assert [e["number"] for e in executions] == [3, 2, 1]


def test_auto_apply_speculative_plan_and_discard(running: Stack) -> None:
    c = register(running.url, "auto")
    design = c.design(data_canvas(2))
    auto = c.pipeline(design, "auto", auto_apply=True)
    ex = c.start(auto["id"], "apply")
    done = c.wait(ex["id"], "applied")
    assert done["confirmed_by"] is None and done["plan"]["counts"]["add"] == 2
    # A speculative plan never applies and never waits for the state.
    c.save(design, data_canvas(3))
    plan = c.start(auto["id"], "plan")
    assert plan["speculative"] is True
    finished = c.wait(plan["id"], "planned_and_finished")
    assert finished["plan"]["counts"]["add"] == 1 and finished["design_version"] == 2
    assert c.state(auto["state"]["name"])["applied_version"] == 1

    manual = c.pipeline(design, "manual", require_approval=True)
    ex = c.start(manual["id"], "apply", version=1)
    planned = c.wait(ex["id"], "planned")
    assert planned["needs"] == "approval" and planned["design_version"] == 1
    discarded = c.ok("POST", f"/api/v1/executions/{ex['id']}/discard")
    assert discarded["status"] == "discarded"
    again = c.http.post(f"/api/v1/executions/{ex['id']}/approve")
    assert again.status_code == 409 and again.json()["execution_status"] == "discarded"


def test_a_failing_apply_ends_errored_with_the_error_logged_and_the_lock_free(running: Stack) -> None:
    c = register(running.url, "fail")
    design = c.design(sandbox_canvas(subnet_cidr="192.168.0.0/24"))  # outside the network's range
    pipeline = c.pipeline(design, "dev", auto_apply=True)
    ex = c.start(pipeline["id"], "apply")
    failed = c.wait(ex["id"], "errored")
    assert "terraform apply failed" in failed["error"]
    assert failed["stages"][-1]["name"] == "apply" and failed["stages"][-1]["status"] == "failed"
    log = c.log(ex["id"])
    assert "Error:" in log and "192.168.0.0/24" in log
    state = c.state(pipeline["state"]["name"])
    assert state["lock"] is None and state["diverged"] is False
    # The state is free: the next execution runs.
    c.save(design, sandbox_canvas())
    assert c.apply(pipeline["id"])["status"] == "applied"


def test_cancel_during_a_long_apply_saves_state_and_frees_the_lock(running: Stack) -> None:
    c = register(running.url, "cancel")
    design = c.design(sandbox_canvas(instances=3, boot_seconds=25))
    pipeline = c.pipeline(design, "dev", auto_apply=True)
    ex = c.start(pipeline["id"], "apply")
    c.wait(ex["id"], "applying")
    c.wait_for_log(ex["id"], "sandbox_instance.vm0: Creating...")
    requested = c.ok("POST", f"/api/v1/executions/{ex['id']}/cancel")
    assert requested["status"] == "applying" and requested["cancel_requested_at"]
    assert requested["force_cancel_available_at"]
    canceled = c.wait(ex["id"], "canceled", timeout=90)
    assert canceled["stages"][-1]["status"] == "canceled"
    log = c.log(ex["id"])
    assert "Cancel requested" in log
    state = c.state(pipeline["state"]["name"])
    assert state["lock"] is None and state["diverged"] is False
    # Graceful: terraform saved what it created, so state and cloud agree.
    recorded = state_resources(c, pipeline["state"]["name"])
    assert "sandbox_network.main" in recorded and "sandbox_subnet.web" in recorded
    assert c.ok("POST", f"/api/v1/executions/{ex['id']}/cancel", 409)


def test_force_cancel_kills_the_process_group_frees_the_lock_and_marks_the_state(running: Stack) -> None:
    c = register(running.url, "force")
    design = c.design(sandbox_canvas(instances=1, boot_seconds=120))
    pipeline = c.pipeline(design, "dev", auto_apply=True)
    ex = c.start(pipeline["id"], "apply")
    c.wait(ex["id"], "applying")
    c.wait_for_log(ex["id"], "sandbox_instance.vm0: Creating...")
    assert c.state(pipeline["state"]["name"])["lock"] is not None  # terraform holds it
    too_soon = c.http.post(f"/api/v1/executions/{ex['id']}/cancel")
    assert too_soon.status_code == 200
    # The provider ignores the interrupt while its instance "boots": terraform waits for it.
    time.sleep(1.5)
    forced = c.ok("POST", f"/api/v1/executions/{ex['id']}/cancel")
    assert forced["status"] == "applying"
    done = c.wait(ex["id"], "force_canceled", timeout=30)
    assert done["finished_at"]
    state = c.state(pipeline["state"]["name"])
    assert state["lock"] is None
    assert state["diverged"] is True and "killed" in state["diverged_reason"]
    assert c.ok("GET", f"/api/v1/pipelines/{pipeline['id']}")["state"]["diverged"] is True
    assert "Force-cancel requested" in c.log(ex["id"])
    # Terraform and its provider were killed with their process group: none is left.
    deadline = time.monotonic() + 10
    while run_processes(ex["id"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run_processes(ex["id"]) == []
    # The next successful apply clears the mark.
    c.save(design, sandbox_canvas())
    c.apply(pipeline["id"])
    assert c.state(pipeline["state"]["name"])["diverged"] is False


def run_processes(execution_id: str) -> list[int]:
    """Live processes of one execution's run: terraform and its providers carry the run's token
    (``TF_HTTP_PASSWORD=b3x_<execution id>...``) in their environment."""
    marker = f"TF_HTTP_PASSWORD=b3x_{uuid.UUID(execution_id).hex}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()  # empty for a zombie: it runs nothing
        except OSError:
            continue
        if marker in environ:
            found.append(int(proc.name))
    return found


def test_sensitive_variables_reach_terraform_but_never_a_log_or_response(running: Stack) -> None:
    c = register(running.url, "secret")
    canary = "s3cr3t-canary-" + "x9" * 8
    canvas = {
        "nodes": [
            {
                "id": "v",
                "type": "variable",
                "name": "password",
                "properties": {"type": "string", "sensitive": True},
            },
            {"id": "plain", "type": "variable", "name": "greeting", "properties": {"type": "string"}},
            {
                "id": "d",
                "type": "terraform_data",
                "name": "d",
                "properties": {"input": {"$expr": "var.greeting"}},
            },
            {
                "id": "leak",
                "type": "terraform_data",
                "name": "leak",
                "properties": {"input": {"$expr": "nonsensitive(var.password)"}},
            },
        ],
        "edges": [
            {"source": "d", "target": "plain", "attribute": "input"},
            {"source": "leak", "target": "v", "attribute": "input"},
        ],
    }
    design = c.design(canvas)
    pipeline = c.pipeline(design, "dev", auto_apply=True)
    created = c.ok(
        "POST",
        f"/api/v1/pipelines/{pipeline['id']}/variables",
        201,
        json={"key": "password", "value": canary, "sensitive": True},
    )
    assert created["value"] is None
    c.ok(
        "POST",
        f"/api/v1/pipelines/{pipeline['id']}/variables",
        201,
        json={"key": "greeting", "value": "hello"},
    )
    listed = c.ok("GET", f"/api/v1/pipelines/{pipeline['id']}/variables")
    assert canary not in json.dumps(listed) and {"hello", None} == {v["value"] for v in listed["items"]}
    ex = c.start(pipeline["id"], "apply")
    done = c.wait(ex["id"], "applied")
    log = c.log(ex["id"])
    assert "***" in json.dumps(done) or "***" in log  # it was there, masked
    assert canary not in log and canary not in json.dumps(done)
    # Terraform did receive it: the state holds it (state is the one place it must be).
    raw = httpx.get(
        f"{running.url}/api/v1/orgs/{c.org}/states/{pipeline['state']['name']}/versions/1",
        headers={"Authorization": f"Bearer {c.token}"},
    )
    assert canary in raw.text
    assert canary not in running.output()


def test_another_organization_sees_no_pipeline_execution_or_log(running: Stack) -> None:
    owner = register(running.url, "owner")
    other = register(running.url, "other")
    design = owner.design(data_canvas(1))
    pipeline = owner.pipeline(design, "dev")
    ex = owner.start(pipeline["id"], "plan")
    owner.wait(ex["id"], "planned_and_finished")
    for path in (
        f"/api/v1/pipelines/{pipeline['id']}",
        f"/api/v1/pipelines/{pipeline['id']}/executions",
        f"/api/v1/pipelines/{pipeline['id']}/variables",
        f"/api/v1/pipelines/{pipeline['id']}/stats",
        f"/api/v1/executions/{ex['id']}",
        f"/api/v1/executions/{ex['id']}/logs",
        f"/api/v1/executions/{ex['id']}/logs?follow=true",
    ):
        assert other.http.get(path).status_code == 404, path
    for path in ("approve", "discard", "cancel"):
        assert other.http.post(f"/api/v1/executions/{ex['id']}/{path}").status_code == 404
    assert (
        other.http.post(
            f"/api/v1/pipelines/{pipeline['id']}/executions", json={"operation": "plan"}
        ).status_code
        == 404
    )


def test_live_log_follows_and_resumes_after_last_event_id(running: Stack) -> None:
    c = register(running.url, "follow")
    design = c.design(sandbox_canvas(instances=1, boot_seconds=2))
    pipeline = c.pipeline(design, "dev", auto_apply=True)
    ex = c.start(pipeline["id"], "apply")
    events: list[tuple[str, str, str]] = []
    with c.http.stream("GET", f"/api/v1/executions/{ex['id']}/logs?follow=true", timeout=120) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        event: dict[str, str] = {}
        for line in stream.iter_lines():
            if not line:
                if "event" in event:
                    events.append((event["event"], event.get("id", ""), event.get("data", "")))
                    if event["event"] == "end":
                        break
                event = {}
                continue
            key, _, value = line.partition(":")
            event[key] = value.removeprefix(" ")
    assert events[-1][0] == "end" and events[-1][2] == "applied"
    lines = [e for e in events if e[0] == "line"]
    assert [int(e[1]) for e in lines] == list(range(len(lines)))  # every line once, in order
    assert [e[2] for e in lines] == c.log(ex["id"]).splitlines()
    resumed = c.http.get(
        f"/api/v1/executions/{ex['id']}/logs",
        params={"follow": "true"},
        headers={"Last-Event-ID": str(len(lines) - 3)},
    )
    ids = [line.removeprefix("id: ") for line in resumed.text.splitlines() if line.startswith("id: ")]
    assert ids == [str(len(lines) - 2), str(len(lines) - 1)]
