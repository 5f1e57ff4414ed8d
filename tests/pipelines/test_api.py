"""The pipelines API in process (no terraform run): validation, permissions, tenancy, variables,
the state's queue, run tokens."""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import uuid

import pytest

from app.accounts.credentials import sha256_hex
from app.pipelines import tokens
from app.pipelines.tables import Execution
from tests.conftest import BACKEND, REDIS_PREFIX, TEST_REDIS_URL
from tests.designs.helpers import create_design
from tests.pipelines.support import data_canvas
from tests.support.api import Account, assert_problem


async def setup(client, api, **options) -> tuple[Account, str, dict]:
    owner = await api.register("pipes")
    design = await create_design(client, owner, data_canvas(1))
    r = await client.post(
        f"/api/v1/designs/{design['id']}/pipelines",
        json={"environment": "dev", **options},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    return owner, design["id"], r.json()


async def test_create_read_update_delete_a_pipeline(client, api) -> None:
    owner, design_id, pipeline = await setup(client, api)
    assert pipeline["state"] == {
        "name": f"design-{design_id}-dev",
        "diverged": False,
        "diverged_reason": None,
    }
    assert (pipeline["auto_apply"], pipeline["require_approval"]) == (False, False)
    design = (await client.get(f"/api/v1/designs/{design_id}", headers=owner.headers)).json()
    assert design["environments"] == [
        {
            "environment": "dev",
            "pipeline_id": pipeline["id"],
            "state": pipeline["state"]["name"],
            "last_applied_version": None,
            "last_applied_at": None,
            "drift": None,
        }
    ]
    state = (
        await client.get(
            f"/api/v1/orgs/{owner.org_slug}/states/{pipeline['state']['name']}", headers=owner.headers
        )
    ).json()
    assert (state["pipeline_id"], state["design_id"], state["environment"]) == (
        pipeline["id"],
        design_id,
        "dev",
    )

    r = await client.patch(
        f"/api/v1/pipelines/{pipeline['id']}",
        json={"require_approval": True, "drift_schedule": "6h"},
        headers=owner.headers,
    )
    assert (
        r.status_code == 200 and r.json()["require_approval"] is True and r.json()["drift_schedule"] == "6h"
    )
    listed = (await client.get(f"/api/v1/designs/{design_id}/pipelines", headers=owner.headers)).json()
    assert [p["id"] for p in listed["items"]] == [pipeline["id"]]

    r = await client.delete(f"/api/v1/pipelines/{pipeline['id']}", headers=owner.headers)
    assert r.status_code == 204
    assert (await client.get(f"/api/v1/pipelines/{pipeline['id']}", headers=owner.headers)).status_code == 404
    design = (await client.get(f"/api/v1/designs/{design_id}", headers=owner.headers)).json()
    assert design["environments"] == []
    # The state stays (it records real infrastructure), no longer owned.
    state = (
        await client.get(
            f"/api/v1/orgs/{owner.org_slug}/states/{pipeline['state']['name']}", headers=owner.headers
        )
    ).json()
    assert state["pipeline_id"] is None


async def test_bad_pipelines_are_refused_naming_the_field(client, api) -> None:
    owner, design_id, pipeline = await setup(client, api)
    url = f"/api/v1/designs/{design_id}/pipelines"
    r = await client.post(url, json={"environment": "dev"}, headers=owner.headers)
    assert_problem(r, 409, "environment")
    r = await client.post(
        url, json={"environment": "prod", "auto_apply": True, "require_approval": True}, headers=owner.headers
    )
    body = assert_problem(r, 422, "auto_apply")
    assert "require_approval" in [e["field"] for e in body["errors"]]
    r = await client.post(
        url, json={"environment": "prod", "drift_schedule": "* * * * *"}, headers=owner.headers
    )
    assert "minimum interval" in assert_problem(r, 422, "drift_schedule")["errors"][0]["message"]
    r = await client.post(
        url, json={"environment": "prod", "drift_schedule": "every tuesday"}, headers=owner.headers
    )
    assert_problem(r, 422, "drift_schedule")
    r = await client.post(url, json={"environment": "Prod Env"}, headers=owner.headers)
    assert r.status_code in (400, 422) and "environment" in r.text
    r = await client.post(
        url, json={"environment": "qa", "state_name": pipeline["state"]["name"]}, headers=owner.headers
    )
    assert_problem(r, 409)
    r = await client.patch(
        f"/api/v1/pipelines/{pipeline['id']}",
        json={"auto_apply": True, "require_approval": True},
        headers=owner.headers,
    )
    assert_problem(r, 422, "auto_apply")
    assert (await client.get(f"/api/v1/pipelines/{pipeline['id']}", headers=owner.headers)).json()[
        "auto_apply"
    ] is False


async def test_another_organization_gets_404_and_a_viewer_403(client, api) -> None:
    owner, design_id, pipeline = await setup(client, api)
    stranger = await api.register("stranger")
    for method, path in (
        ("GET", f"/api/v1/pipelines/{pipeline['id']}"),
        ("PATCH", f"/api/v1/pipelines/{pipeline['id']}"),
        ("DELETE", f"/api/v1/pipelines/{pipeline['id']}"),
        ("GET", f"/api/v1/pipelines/{pipeline['id']}/variables"),
        ("GET", f"/api/v1/designs/{design_id}/pipelines"),
        ("POST", f"/api/v1/pipelines/{pipeline['id']}/executions"),
    ):
        body = {"operation": "plan"} if method == "POST" else ({} if method == "PATCH" else None)
        r = await client.request(method, path, json=body, headers=stranger.headers)
        assert r.status_code == 404, (method, path, r.text)
    viewer = await api.register("viewer")
    await api.add_member(owner, viewer, "viewer")
    assert (
        await client.get(f"/api/v1/pipelines/{pipeline['id']}", headers=viewer.headers)
    ).status_code == 200
    r = await client.post(
        f"/api/v1/pipelines/{pipeline['id']}/executions", json={"operation": "plan"}, headers=viewer.headers
    )
    assert_problem(r, 403)
    r = await client.post(
        f"/api/v1/designs/{design_id}/pipelines", json={"environment": "qa"}, headers=viewer.headers
    )
    assert_problem(r, 403)


async def test_variables_sensitive_values_are_write_only_and_never_stored_in_clear(client, api) -> None:
    owner, _, pipeline = await setup(client, api)
    url = f"/api/v1/pipelines/{pipeline['id']}/variables"
    canary = f"canary-{uuid.uuid4().hex}"
    r = await client.post(
        url, json={"key": "db_password", "value": canary, "sensitive": True}, headers=owner.headers
    )
    assert r.status_code == 201 and r.json()["value"] is None
    secret_id = r.json()["id"]
    r = await client.post(
        url, json={"key": "AWS_REGION", "value": "eu-west-1", "category": "env"}, headers=owner.headers
    )
    assert r.status_code == 201 and r.json()["value"] == "eu-west-1"
    r = await client.post(
        url, json={"key": "sizes", "value": '["a", "b"]', "hcl": True}, headers=owner.headers
    )
    assert r.status_code == 201
    assert_problem(
        await client.post(url, json={"key": "db_password", "value": "x"}, headers=owner.headers), 409, "key"
    )
    for reserved in ("TF_LOG", "PATH", "LD_PRELOAD", "BOARD3_DATA_DIR", "TF_CLI_CONFIG_FILE", "PYTHONPATH"):
        r = await client.post(
            url, json={"key": reserved, "value": "x", "category": "env"}, headers=owner.headers
        )
        assert_problem(r, 422, "key")
    assert_problem(
        await client.post(url, json={"key": "bad", "value": "[1,", "hcl": True}, headers=owner.headers),
        422,
        "value",
    )
    assert_problem(
        await client.post(url, json={"key": "1st", "value": "x"}, headers=owner.headers), 422, "key"
    )
    r = await client.patch(f"/api/v1/variables/{secret_id}", json={"sensitive": False}, headers=owner.headers)
    assert_problem(r, 422, "sensitive")
    newer = f"canary-{uuid.uuid4().hex}"
    r = await client.patch(f"/api/v1/variables/{secret_id}", json={"value": newer}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["value"] is None
    listed = (await client.get(url, headers=owner.headers)).json()["items"]
    assert {v["key"]: v["value"] for v in listed} == {
        "AWS_REGION": "eu-west-1",
        "db_password": None,
        "sizes": '["a", "b"]',
    }
    stranger = await api.register("thief")
    assert (
        await client.patch(f"/api/v1/variables/{secret_id}", json={"value": "x"}, headers=stranger.headers)
    ).status_code == 404
    assert (
        await client.delete(f"/api/v1/variables/{secret_id}", headers=stranger.headers)
    ).status_code == 404
    # Neither value is anywhere in the database or Redis in clear (audit, rows, caches).
    dump = _database_dump()
    assert canary not in dump and newer not in dump and "db_password" in dump
    assert not await _in_redis(canary) and not await _in_redis(newer)
    assert (await client.delete(f"/api/v1/variables/{secret_id}", headers=owner.headers)).status_code == 204


def _database_dump() -> str:
    if BACKEND == "sqlite":
        with sqlite3.connect(os.path.join(os.environ["BOARD3_DATA_DIR"], "board3.sqlite3")) as db:
            return "\n".join(db.iterdump())
    return subprocess.run(
        ["pg_dump", os.environ["DATABASE_URL"]], capture_output=True, text=True, check=True
    ).stdout


async def _in_redis(text: str) -> bool:
    from redis.asyncio import Redis

    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        async for key in redis.scan_iter(match=f"{REDIS_PREFIX}*"):
            kind = (await redis.type(key)).decode()
            value = (
                await redis.get(key)
                if kind == "string"
                else await redis.hgetall(key)
                if kind == "hash"
                else b""
            )
            if text.encode() in (value if isinstance(value, bytes) else repr(value).encode()):
                return True
    finally:
        await redis.aclose()
    return False


async def test_executions_queue_per_state_and_cancel_before_running(client, api) -> None:
    owner, _, pipeline = await setup(client, api)
    url = f"/api/v1/pipelines/{pipeline['id']}/executions"
    assert_problem(
        await client.post(url, json={"operation": "apply", "version": 9}, headers=owner.headers),
        422,
        "version",
    )
    assert_problem(
        await client.post(url, json={"operation": "launch"}, headers=owner.headers), 422, "operation"
    )
    first = (await client.post(url, json={"operation": "apply"}, headers=owner.headers)).json()
    second = (await client.post(url, json={"operation": "destroy"}, headers=owner.headers)).json()
    plan = (await client.post(url, json={"operation": "plan"}, headers=owner.headers)).json()
    assert first["status"] == "queued" and second["status"] == "pending" and plan["status"] == "queued"
    assert plan["speculative"] is True and first["design_version"] == 1
    assert (await client.get(f"/api/v1/executions/{second['id']}", headers=owner.headers)).json()[
        "queue_position"
    ] == 1
    # Approving or discarding needs a plan.
    r = await client.post(f"/api/v1/executions/{first['id']}/approve", headers=owner.headers)
    assert assert_problem(r, 409)["execution_status"] == "queued"
    # Waiting executions are canceled at once; the state goes to the next one.
    r = await client.post(f"/api/v1/executions/{first['id']}/cancel", headers=owner.headers)
    assert (
        r.status_code == 200 and r.json()["status"] == "canceled" and r.json()["canceled_by"] == owner.email
    )
    assert (await client.get(f"/api/v1/executions/{second['id']}", headers=owner.headers)).json()[
        "status"
    ] == "queued"
    assert_problem(await client.post(f"/api/v1/executions/{first['id']}/cancel", headers=owner.headers), 409)
    page = (await client.get(url, params={"status": "canceled"}, headers=owner.headers)).json()
    assert [e["id"] for e in page["items"]] == [first["id"]]
    everything = (await client.get(url, params={"limit": 2}, headers=owner.headers)).json()
    assert [e["number"] for e in everything["items"]] == [3, 2] and everything["next_cursor"]
    stats = (await client.get(f"/api/v1/pipelines/{pipeline['id']}/stats", headers=owner.headers)).json()
    assert stats["last_7_days"]["executions"] == 3 and stats["last_7_days"]["canceled"] == 1
    assert stats["last_30_days"]["success_rate"] is None
    # Unfinished executions keep the pipeline from being deleted.
    assert_problem(await client.delete(f"/api/v1/pipelines/{pipeline['id']}", headers=owner.headers), 409)


async def test_approval_needs_pipeline_approve_when_the_pipeline_requires_it(client, api) -> None:
    owner, _, pipeline = await setup(client, api, require_approval=True)
    developer = await api.register("dev")
    await api.add_member(owner, developer, "developer")
    ex = (
        await client.post(
            f"/api/v1/pipelines/{pipeline['id']}/executions",
            json={"operation": "apply"},
            headers=developer.headers,
        )
    ).json()
    assert_problem(
        await client.post(f"/api/v1/executions/{ex['id']}/approve", headers=developer.headers), 403
    )
    assert_problem(
        await client.post(f"/api/v1/executions/{ex['id']}/discard", headers=developer.headers), 403
    )
    assert_problem(await client.post(f"/api/v1/executions/{ex['id']}/approve", headers=owner.headers), 409)


async def test_a_run_token_reaches_its_own_state_only_and_only_while_it_runs(client, api) -> None:
    owner, _, pipeline = await setup(client, api)
    ex = (
        await client.post(
            f"/api/v1/pipelines/{pipeline['id']}/executions",
            json={"operation": "apply"},
            headers=owner.headers,
        )
    ).json()
    execution_id = uuid.UUID(ex["id"])
    token, token_hash = tokens.new_token(execution_id)
    basic = {"Authorization": "Basic " + base64.b64encode(f"board3-run:{token}".encode()).decode()}
    own = f"/tf/{owner.org_slug}/{pipeline['state']['name']}"
    assert (await client.get(own, headers=basic)).status_code == 401  # no run holds this token yet
    await Execution.update({Execution.status: "planning", Execution.token_hash: token_hash}).where(
        Execution.id == execution_id
    )
    assert (await client.get(own, headers=basic)).status_code == 204  # its state, empty so far
    assert (await client.get(f"/tf/{owner.org_slug}/another-state", headers=basic)).status_code == 404
    assert (
        await client.get(
            f"/api/v1/orgs/{owner.org_slug}/states", headers={"Authorization": f"Bearer {token}"}
        )
    ).status_code == 403
    forged = token[:-4] + "AAAA"
    forged_auth = {"Authorization": "Basic " + base64.b64encode(f"x:{forged}".encode()).decode()}
    assert (await client.get(own, headers=forged_auth)).status_code == 401
    await Execution.update({Execution.status: "errored"}).where(Execution.id == execution_id)
    r = await client.get(own, headers=basic)
    assert r.status_code == 401 and r.json()["type"].endswith("invalid-run-token")
    assert sha256_hex(token) == token_hash


@pytest.mark.parametrize("operation", ["plan", "apply"])
async def test_a_design_without_a_version_cannot_run(client, api, operation) -> None:
    owner = await api.register("empty")
    design = await create_design(client, owner)
    r = await client.post(
        f"/api/v1/designs/{design['id']}/pipelines", json={"environment": "dev"}, headers=owner.headers
    )
    r = await client.post(
        f"/api/v1/pipelines/{r.json()['id']}/executions", json={"operation": operation}, headers=owner.headers
    )
    assert_problem(r, 422, "version")
