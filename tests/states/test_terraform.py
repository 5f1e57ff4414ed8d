"""The real terraform binary against a live `board3 serve`: the http backend end to end."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.states.support import basic, lock_info, unique
from tests.states.terraform import Workspace, backend_block
from tests.support.api import bearer

pytestmark = pytest.mark.slow

CONFIG = """
variable "value" {
  type    = string
  default = "one"
}
resource "terraform_data" "a" {
  input = var.value
}
resource "terraform_data" "b" {
  input = "${terraform_data.a.output}-b"
}
output "value" {
  value = terraform_data.b.output
}
output "secret" {
  value     = "s3cret-${var.value}"
  sensitive = true
}
"""

SLOW_CONFIG = """
resource "terraform_data" "slow" {
  input = "%s"
  provisioner "local-exec" {
    command = "sleep %d"
  }
}
"""


@pytest.fixture
def server(live_server):
    return live_server()


@pytest.fixture
def workspaces():
    made: list[Workspace] = []

    def make() -> Workspace:
        ws = Workspace()
        made.append(ws)
        return ws

    yield make
    for ws in made:
        ws.cleanup()


def _versions(server, keys, name) -> list[int]:
    r = httpx.get(f"{server.url}/api/v1/orgs/{keys.org}/states/{name}/versions", headers=bearer(keys.read))
    assert r.status_code == 200, r.text
    return [v["serial"] for v in r.json()["items"]]


def _current(server, keys, name) -> dict:
    r = httpx.get(f"{server.url}/tf/{keys.org}/{name}", headers=basic(keys.read))
    assert r.status_code == 200, r.text
    return json.loads(r.content)


def _wait_for_lock(server, keys, name, timeout=30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{server.url}/api/v1/orgs/{keys.org}/states/{name}", headers=bearer(keys.read))
        if r.status_code == 200 and r.json()["lock"]:
            return r.json()["lock"]
        time.sleep(0.1)
    raise AssertionError("the lock was never taken")


def test_init_plan_apply_pull_push_output_destroy(server, keys, workspaces):
    name = unique("tf")
    ws = workspaces()
    ws.write(backend_block(server.url, keys.org, name) + CONFIG)
    ws.init(keys.write)
    assert "No changes" not in ws.run("plan", "-no-color", "-input=false").stdout
    assert _versions(server, keys, name) == []  # plan writes nothing
    ws.apply()
    first = _versions(server, keys, name)
    assert first and first == sorted(first, reverse=True)
    assert ws.outputs()["value"]["value"] == "one-b"
    ws.apply("-var", "value=two")
    second = _versions(server, keys, name)
    assert second[0] > first[0] and len(second) > len(first)
    outputs = ws.outputs()
    assert outputs["value"]["value"] == "two-b" and outputs["secret"]["sensitive"] is True
    # state pull is exactly what the server holds
    pulled = json.loads(ws.run("state", "pull").stdout)
    current = _current(server, keys, name)
    assert pulled == current and pulled["serial"] == second[0]
    # state push of a newer serial becomes a version
    pulled["serial"] += 1
    (ws.dir / "pushed.tfstate").write_text(json.dumps(pulled))
    ws.run("state", "push", "pushed.tfstate")
    pushed = _versions(server, keys, name)
    assert pushed[0] >= pulled["serial"] and len(pushed) == len(second) + 1
    # pushing an older serial is refused and changes nothing
    pulled["serial"] -= 2
    (ws.dir / "old.tfstate").write_text(json.dumps(pulled))
    assert ws.run("state", "push", "old.tfstate", check=False).returncode != 0
    assert _versions(server, keys, name) == pushed
    # the API sees the resources and masks the sensitive output
    r = httpx.get(f"{server.url}/api/v1/orgs/{keys.org}/states/{name}/outputs", headers=bearer(keys.read))
    secret = next(o for o in r.json()["outputs"] if o["name"] == "secret")
    assert secret["masked"] and secret["value"] is None
    ws.run("destroy", "-auto-approve", "-no-color", "-input=false")
    final = _current(server, keys, name)
    assert final["resources"] == [] and final["serial"] == _versions(server, keys, name)[0]
    state = httpx.get(f"{server.url}/api/v1/orgs/{keys.org}/states/{name}", headers=bearer(keys.read)).json()
    assert state["resource_count"] == 0 and state["lock"] is None


def test_migrate_local_state_into_board3(server, keys, workspaces):
    name = unique("migrate")
    ws = workspaces()
    ws.write(CONFIG)
    ws.run("init", "-input=false", "-no-color")
    ws.apply()
    local = json.loads((ws.dir / "terraform.tfstate").read_text())
    ws.write(backend_block(server.url, keys.org, name) + CONFIG)
    ws.init(keys.write, "-migrate-state", "-force-copy")
    remote = _current(server, keys, name)
    # Terraform writes the migrated resources into the (empty) destination as its first version
    assert remote["resources"] == local["resources"] and local["resources"]
    assert _versions(server, keys, name) == [remote["serial"]]
    assert "No changes" in ws.run("plan", "-no-color", "-input=false").stdout


def test_two_applies_at_once(server, keys, workspaces):
    name = unique("race")
    first, second = workspaces(), workspaces()
    first.write(backend_block(server.url, keys.org, name) + SLOW_CONFIG % ("first", 6))
    second.write(backend_block(server.url, keys.org, name) + SLOW_CONFIG % ("second", 0))
    first.init(keys.write)
    second.init(keys.write)
    running = first.popen("apply", "-auto-approve", "-input=false", "-no-color")
    try:
        lock = _wait_for_lock(server, keys, name)
        refused = second.apply(check=False)
        assert refused.returncode != 0
        text = refused.stdout + refused.stderr
        assert "state already locked" in text or "Error acquiring the state lock" in text, text
        assert lock["id"] in text and "OperationTypeApply" in text
        # with a lock timeout the second apply waits for the first and then succeeds
        waited = second.apply("-lock-timeout=30s")
        assert waited.returncode == 0
    finally:
        out, _ = running.communicate(timeout=60)
    assert running.returncode == 0, out
    assert (
        _current(server, keys, name)["resources"][0]["instances"][0]["attributes"]["input"]["value"]
        == "second"
    )


def test_force_unlock_needs_state_admin(server, keys, workspaces):
    name = unique("stuck")
    ws = workspaces()
    ws.write(backend_block(server.url, keys.org, name) + CONFIG)
    ws.init(keys.write)
    ws.apply()
    stuck = lock_info(who="crashed@runner")
    r = httpx.request(
        "LOCK", f"{server.url}/tf/{keys.org}/{name}/lock", json=stuck, headers=basic(keys.write)
    )
    assert r.status_code == 200
    denied = ws.run("force-unlock", "-force", "-no-color", stuck["ID"], check=False)
    assert denied.returncode != 0
    assert _wait_for_lock(server, keys, name)["id"] == stuck["ID"]
    admin = workspaces()
    admin.write(backend_block(server.url, keys.org, name) + CONFIG)
    admin.init(keys.admin)
    admin.run("force-unlock", "-force", "-no-color", stuck["ID"])
    state = httpx.get(f"{server.url}/api/v1/orgs/{keys.org}/states/{name}", headers=bearer(keys.read)).json()
    assert state["lock"] is None
    admin.apply("-var", "value=after-unlock")


def test_remote_state_reads_another_states_outputs(server, keys, workspaces):
    producer_name = unique("producer")
    producer = workspaces()
    producer.write(backend_block(server.url, keys.org, producer_name) + CONFIG)
    producer.init(keys.write)
    producer.apply("-var", f"value=shared-{uuid.uuid4().hex[:6]}")
    expected = producer.outputs()["value"]["value"]
    consumer = workspaces()
    consumer.write(
        backend_block(server.url, keys.org, unique("consumer"))
        + f"""
variable "password" {{
  type      = string
  sensitive = true
}}
data "terraform_remote_state" "producer" {{
  backend = "http"
  config = {{
    address  = "{server.url}/tf/{keys.org}/{producer_name}"
    username = "terraform"
    password = var.password
  }}
}}
output "from_producer" {{
  value = data.terraform_remote_state.producer.outputs.value
}}
"""
    )
    consumer.init(keys.write)
    consumer.apply("-var", f"password={keys.read}")
    assert consumer.outputs()["from_producer"]["value"] == expected
