"""The drift API in process (no terraform: checks' executions are moved by hand through the real
execution machinery): skipped checks, the state's queue, results and history, errors, tenancy,
permissions, bad input, accepting drift and the diagram's marks."""

from __future__ import annotations

import uuid

from app.events.tables import DomainEventRow
from app.pipelines.tables import Pipeline
from tests.designs.helpers import create_design
from tests.drift.fabricate import applied, changed, deleted, finish, site
from tests.support.api import Account, assert_problem


async def setup(client, api, *, apply: bool = True, **options) -> tuple[Account, str, dict]:
    owner = await api.register("drift")
    design = await create_design(client, owner, site())
    r = await client.post(
        f"/api/v1/designs/{design['id']}/pipelines",
        json={"environment": "prod", **options},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    pipeline = r.json()
    if apply:
        await applied(pipeline["id"])
    return owner, design["id"], pipeline


async def start(client, owner: Account, pipeline: dict, expect: int = 202) -> dict:
    r = await client.post(f"/api/v1/pipelines/{pipeline['id']}/drift-checks", headers=owner.headers)
    assert r.status_code == expect, r.text
    return dict(r.json())


async def get(client, owner: Account, path: str) -> dict:
    r = await client.get(path, headers=owner.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def events(organization_id: str, type_: str) -> list[dict]:
    return list(
        await DomainEventRow.select(DomainEventRow.data)
        .where(
            (DomainEventRow.organization_id == uuid.UUID(organization_id)) & (DomainEventRow.type == type_)
        )
        .order_by(DomainEventRow.created_at)
        .output(load_json=True)
    )


async def test_a_check_before_any_apply_is_skipped_and_says_why(client, api) -> None:
    owner, design_id, pipeline = await setup(client, api, apply=False)
    check = await start(client, owner, pipeline)
    assert check["status"] == "skipped" and check["trigger"] == "manual"
    assert "nothing applied yet" in check["reason"]
    assert check["execution_id"] is None and check["finished_at"] is not None
    assert check["links"]["execution"] is None and check["links"]["accept"] is None
    glance = (await get(client, owner, f"/api/v1/pipelines/{pipeline['id']}"))["drift"]
    assert glance["check_id"] == check["id"] and glance["status"] == "skipped"
    assert glance["drifted"] is None and "nothing applied yet" in glance["reason"]
    design = await get(client, owner, f"/api/v1/designs/{design_id}")
    assert design["environments"][0]["drift"] == glance
    page = await get(client, owner, f"/api/v1/pipelines/{pipeline['id']}/drift-checks")
    assert [c["id"] for c in page["items"]] == [check["id"]]


async def test_a_manual_check_waits_for_the_state_like_an_apply_and_can_be_canceled(client, api) -> None:
    owner, _, pipeline = await setup(client, api)
    r = await client.post(
        f"/api/v1/pipelines/{pipeline['id']}/executions", json={"operation": "apply"}, headers=owner.headers
    )
    apply = r.json()
    assert apply["status"] == "queued"  # it holds the state
    check = await start(client, owner, pipeline)
    assert check["status"] == "pending" and check["design_version"] == 1
    execution = await get(client, owner, f"/api/v1/executions/{check['execution_id']}")
    assert execution["operation"] == "drift" and execution["status"] == "pending"
    assert execution["queue_position"] == 1
    # A plan request for the drift operation is not something the executions API takes.
    r = await client.post(
        f"/api/v1/pipelines/{pipeline['id']}/executions", json={"operation": "drift"}, headers=owner.headers
    )
    assert_problem(r, 422, "operation")

    await client.post(f"/api/v1/executions/{apply['id']}/cancel", headers=owner.headers)
    execution = await get(client, owner, f"/api/v1/executions/{check['execution_id']}")
    assert execution["status"] == "queued"  # its turn came
    r = await client.post(f"/api/v1/executions/{check['execution_id']}/cancel", headers=owner.headers)
    assert r.status_code == 200
    canceled = await get(client, owner, f"/api/v1/drift-checks/{check['id']}")
    assert canceled["status"] == "canceled" and "canceled" in canceled["reason"]
    everything = await get(client, owner, f"/api/v1/pipelines/{pipeline['id']}/executions")
    assert {e["operation"] for e in everything["items"]} == {"apply", "drift"}


async def test_results_their_history_and_new_still_drifted_and_resolved(client, api) -> None:
    owner, _, pipeline = await setup(client, api)
    port = changed("sandbox_load_balancer.site", "lb", listener_port=(443, 8443))
    gone = deleted("sandbox_bucket.assets", "bkt")

    first = await start(client, owner, pipeline)
    await finish(first["id"], [port])
    first = await get(client, owner, f"/api/v1/drift-checks/{first['id']}")
    assert first["status"] == "drifted" and first["previous_check_id"] is None
    assert first["difference"]["new"] == [
        {
            "address": "sandbox_load_balancer.site",
            "node_id": "lb",
            "deleted": False,
            "attributes": ["listener_port"],
        }
    ]
    assert first["counts"]["drifted"] == 1 and first["links"]["diagram"]["href"].endswith(
        f"?drift={first['id']}"
    )

    second = await start(client, owner, pipeline)
    await finish(second["id"], [gone, port])
    second = await get(client, owner, f"/api/v1/drift-checks/{second['id']}")
    assert second["previous_check_id"] == first["id"]
    assert [f["address"] for f in second["difference"]["new"]] == ["sandbox_bucket.assets"]
    assert second["difference"]["new"][0]["deleted"] is True
    assert [f["address"] for f in second["difference"]["still_drifted"]] == ["sandbox_load_balancer.site"]

    third = await start(client, owner, pipeline)
    await finish(third["id"], [])
    third = await get(client, owner, f"/api/v1/drift-checks/{third['id']}")
    assert third["status"] == "no_drift" and third["previous_check_id"] == second["id"]
    assert sorted(f["address"] for f in third["difference"]["resolved"]) == [
        "sandbox_bucket.assets",
        "sandbox_load_balancer.site",
    ]
    assert third["links"]["accept"] is None and third["links"]["revert"] is None

    url = f"/api/v1/pipelines/{pipeline['id']}/drift-checks"
    history = await get(client, owner, url)
    assert [c["id"] for c in history["items"]] == [third["id"], second["id"], first["id"]]
    drifted = await get(client, owner, url + "?status=drifted&limit=1")
    assert [c["id"] for c in drifted["items"]] == [second["id"]] and drifted["next_cursor"]
    more = await get(client, owner, url + f"?status=drifted&limit=1&cursor={drifted['next_cursor']}")
    assert [c["id"] for c in more["items"]] == [first["id"]]

    detected = await events(owner.org_id, "drift.detected")
    assert [e["data"]["check_id"] for e in detected] == [first["id"], second["id"]]
    assert detected[1]["data"]["new"] == ["sandbox_bucket.assets"]
    resolved = await events(owner.org_id, "drift.resolved")
    assert [e["data"]["check_id"] for e in resolved] == [third["id"]]
    glance = (await get(client, owner, f"/api/v1/pipelines/{pipeline['id']}"))["drift"]
    assert (glance["status"], glance["drifted"], glance["check_id"]) == ("no_drift", 0, third["id"])


async def test_an_errored_check_keeps_the_schedule_and_says_so(client, api) -> None:
    owner, _, pipeline = await setup(client, api, drift_schedule="1h")
    await Pipeline.update({Pipeline.next_drift_check_at: None}, use_auto_update=False).where(
        Pipeline.id == uuid.UUID(pipeline["id"])
    )
    from app.config import get_settings
    from app.drift.scheduler import tick

    await tick(get_settings())
    before = await get(client, owner, f"/api/v1/pipelines/{pipeline['id']}")
    assert before["next_drift_check_at"] is not None
    check = await start(client, owner, pipeline)
    await finish(check["id"], error="terraform refresh-only failed (exit code 1); see the log")
    errored = await get(client, owner, f"/api/v1/drift-checks/{check['id']}")
    assert errored["status"] == "errored" and "refresh-only failed" in errored["reason"]
    after = await get(client, owner, f"/api/v1/pipelines/{pipeline['id']}")
    assert after["drift_schedule"] == "1h" and after["next_drift_check_at"] == before["next_drift_check_at"]
    assert after["drift"]["status"] == "errored" and "refresh-only failed" in after["drift"]["reason"]
    assert [e["data"]["check_id"] for e in await events(owner.org_id, "drift.errored")] == [check["id"]]


async def test_another_organization_gets_404_a_viewer_may_read_but_not_start(client, api) -> None:
    owner, design_id, pipeline = await setup(client, api)
    check = await start(client, owner, pipeline)
    await finish(check["id"], [changed("sandbox_load_balancer.site", "lb", listener_port=(443, 8443))])
    stranger = await api.register("stranger")
    for method, path in (
        ("GET", f"/api/v1/drift-checks/{check['id']}"),
        ("GET", f"/api/v1/pipelines/{pipeline['id']}/drift-checks"),
        ("POST", f"/api/v1/pipelines/{pipeline['id']}/drift-checks"),
        ("POST", f"/api/v1/drift-checks/{check['id']}/accept"),
        ("GET", f"/api/v1/designs/{design_id}/diagram.svg?drift={check['id']}"),
    ):
        body = {} if path.endswith("accept") else None
        r = await client.request(method, path, json=body, headers=stranger.headers)
        assert_problem(r, 404)
    # A check of another design is not found for this design's diagram.
    other = await create_design(client, owner, site())
    r = await client.get(
        f"/api/v1/designs/{other['id']}/diagram.svg", params={"drift": check["id"]}, headers=owner.headers
    )
    assert_problem(r, 404)
    viewer = await api.register("viewer")
    await api.add_member(owner, viewer, "viewer")
    assert (await get(client, viewer, f"/api/v1/drift-checks/{check['id']}"))["status"] == "drifted"
    assert_problem(
        await client.post(f"/api/v1/pipelines/{pipeline['id']}/drift-checks", headers=viewer.headers), 403
    )
    assert_problem(
        await client.post(f"/api/v1/drift-checks/{check['id']}/accept", json={}, headers=viewer.headers), 403
    )
    developer = await api.register("developer")
    await api.add_member(owner, developer, "developer")
    assert (await start(client, developer, pipeline))["created_by"] == developer.email


async def test_bad_input_is_a_problem_naming_the_field(client, api) -> None:
    owner, design_id, pipeline = await setup(client, api)
    url = f"/api/v1/pipelines/{pipeline['id']}/drift-checks"
    assert_problem(await client.get(url + "?status=broken", headers=owner.headers), 400)
    assert_problem(await client.get(url + "?cursor=nonsense", headers=owner.headers), 400)
    assert_problem(await client.get(f"/api/v1/drift-checks/{uuid.uuid4()}", headers=owner.headers), 404)
    check = await start(client, owner, pipeline)
    await finish(check["id"], [])
    accept = f"/api/v1/drift-checks/{check['id']}/accept"
    assert (
        assert_problem(await client.post(accept, json={}, headers=owner.headers), 409)["check_status"]
        == "no_drift"
    )
    assert_problem(await client.post(accept, json={"remove": True}, headers=owner.headers), 422)
    assert_problem(
        await client.post(accept, json={"resources": "all"}, headers=owner.headers), 422, "resources"
    )
    drifted = await start(client, owner, pipeline)
    await finish(drifted["id"], [changed("sandbox_load_balancer.site", "lb", listener_port=(443, 8443))])
    accept = f"/api/v1/drift-checks/{drifted['id']}/accept"
    r = await client.post(accept, json={"resources": ["sandbox_bucket.nope"]}, headers=owner.headers)
    assert_problem(r, 422, "resources[0]")
    body = assert_problem(await client.post(accept, json={"base_version": 7}, headers=owner.headers), 409)
    assert body["current_version"] == 1
    diagram = f"/api/v1/designs/{design_id}/diagram.svg"
    assert_problem(await client.get(diagram + "?drift=yesterday", headers=owner.headers), 400)
    assert_problem(await client.get(diagram + f"?drift={uuid.uuid4()}", headers=owner.headers), 404)


async def test_accepting_drift_saves_a_version_with_the_real_values(client, api) -> None:
    owner, design_id, pipeline = await setup(client, api)
    check = await start(client, owner, pipeline)
    port = changed("sandbox_load_balancer.site", "lb", listener_port=(443, 8443), dns_name=("a", "b"))
    linked = changed("sandbox_load_balancer.site", "lb", subnet_ids=(["s-1"], ["s-2"]))
    port.attributes += linked.attributes
    await finish(check["id"], [port, deleted("sandbox_bucket.assets", "bkt")])
    accept = f"/api/v1/drift-checks/{check['id']}/accept"

    r = await client.post(accept, json={"resources": ["sandbox_load_balancer.site"]}, headers=owner.headers)
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["created"] is True and result["version"]["number"] == 2 and result["valid"] is True
    assert result["accepted"] == [
        {
            "address": "sandbox_load_balancer.site",
            "node_id": "lb",
            "attribute": "listener_port",
            "design_value": 443,
            "value": 8443,
        }
    ]
    reasons = {(n["attribute"]): n["reason"] for n in result["not_accepted"]}
    assert "computed by the provider" in reasons["dns_name"]
    assert "set by an edge" in reasons["subnet_ids"]
    design = await get(client, owner, f"/api/v1/designs/{design_id}")
    lb = next(n for n in design["canvas"]["nodes"] if n["id"] == "lb")
    assert lb["properties"]["listener_port"] == 8443 and design["current_version"] == 2
    # Again: the design already holds the real values; only the deleted bucket is left, kept.
    r = await client.post(accept, json={}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["created"] is False
    assert "next apply creates it again" in r.json()["not_accepted"][-1]["reason"]
    # Asked to, the deleted bucket's node goes, with its edges.
    r = await client.post(accept, json={"remove_deleted": True}, headers=owner.headers)
    assert r.status_code == 201 and r.json()["removed_nodes"] == ["bkt"]
    design = await get(client, owner, f"/api/v1/designs/{design_id}")
    assert "bkt" not in {n["id"] for n in design["canvas"]["nodes"]}
    assert all("bkt" not in (e["source"], e["target"]) for e in design["canvas"]["edges"])


async def test_the_diagram_marks_the_nodes_a_check_found_drifted(client, api) -> None:
    owner, design_id, pipeline = await setup(client, api)
    check = await start(client, owner, pipeline)
    await finish(
        check["id"],
        [
            changed("sandbox_load_balancer.site", "lb", listener_port=(443, 8443)),
            deleted("sandbox_bucket.assets", "bkt"),
        ],
    )
    url = f"/api/v1/designs/{design_id}/diagram.svg"
    for which in (check["id"], "latest"):
        r = await client.get(url, params={"drift": which}, headers=owner.headers)
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        svg = r.text
        assert 'class="node drift-changed" data-drift="changed" data-node-id="lb"' in svg
        assert 'class="node drift-deleted" data-drift="deleted" data-node-id="bkt"' in svg
        assert 'class="legend"' in svg and "deleted outside Terraform" in svg
    plain = (await client.get(url, headers=owner.headers)).text
    assert "drift-" not in plain
    other_owner, other_design, _ = await setup(client, api)
    r = await client.get(
        f"/api/v1/designs/{other_design}/diagram.svg", params={"drift": "latest"}, headers=other_owner.headers
    )
    assert r.status_code == 200 and "drift-changed" not in r.text  # no check yet: nothing marked
