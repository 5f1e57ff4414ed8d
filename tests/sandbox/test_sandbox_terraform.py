"""The sandbox provider driven by the real terraform binary, offline."""

from __future__ import annotations

import ipaddress
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from app.sandbox.cloud import SandboxCloud
from app.sandbox.service import SandboxConsole
from app.sandbox.store import SandboxStore
from tests.sandbox.terraform_helpers import Terraform, TerraformFactory

pytestmark = pytest.mark.slow


def ref(address: str, attribute: str = "id") -> str:
    return "${" + f"{address}.{attribute}" + "}"


def three_tier(
    header: dict[str, Any], *, size: str = "small", image: str = "ubuntu-24.04", db_version: str = "16"
) -> dict[str, Any]:
    """Network, two web subnets and a data subnet, two security groups, two web instances behind a load
    balancer, a database."""
    net = ref("sandbox_network.main")
    return {
        "terraform": header,
        "data": {"sandbox_image": {"web": {"name": image}}},
        "resource": {
            "sandbox_network": {"main": {"cidr_block": "10.20.0.0/16", "tags": {"tier": "all"}}},
            "sandbox_subnet": {
                "web_a": {"network_id": net, "cidr_block": "10.20.1.0/24", "zone": "sandbox-1a"},
                "web_b": {"network_id": net, "cidr_block": "10.20.2.0/24", "zone": "sandbox-1b"},
                "data": {"network_id": net, "cidr_block": "10.20.10.0/24"},
            },
            "sandbox_security_group": {
                "web": {
                    "name": "web",
                    "network_id": net,
                    "ingress": [
                        {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]}
                    ],
                    "egress": [
                        {"protocol": "all", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}
                    ],
                },
                "db": {
                    "name": "db",
                    "network_id": net,
                    "ingress": [
                        {
                            "protocol": "tcp",
                            "from_port": 5432,
                            "to_port": 5432,
                            "cidr_blocks": ["10.20.0.0/16"],
                        }
                    ],
                },
            },
            "sandbox_instance": {
                name: {
                    "subnet_id": ref(f"sandbox_subnet.{subnet}"),
                    "image": ref("data.sandbox_image.web"),
                    "size": size,
                    "security_group_ids": [ref("sandbox_security_group.web")],
                    "tags": {"role": "web"},
                }
                for name, subnet in (("web_1", "web_a"), ("web_2", "web_b"))
            },
            "sandbox_load_balancer": {
                "web": {
                    "subnet_ids": [ref("sandbox_subnet.web_a"), ref("sandbox_subnet.web_b")],
                    "instance_ids": [ref("sandbox_instance.web_1"), ref("sandbox_instance.web_2")],
                }
            },
            "sandbox_database": {
                "main": {
                    "engine": "postgres",
                    "version": db_version,
                    "size": "medium",
                    "subnet_ids": [ref("sandbox_subnet.data")],
                }
            },
        },
        "output": {"url": {"value": ref("sandbox_load_balancer.web", "dns_name")}},
    }


def test_three_tier_lifecycle(terraform: Terraform, store: SandboxStore, required_providers: dict) -> None:
    terraform.write(three_tier(required_providers))
    terraform.init()
    lock = (terraform.workdir / ".terraform.lock.hcl").read_text()
    assert '"board3.local/board3/sandbox"' in lock and 'version     = "0.1.0"' in lock

    created = terraform.planned_actions()
    assert len(created) == 10 and set(map(tuple, created.values())) == {("create",)}
    terraform.apply("plan.bin")
    state = terraform.state()
    stored = {r.id: r for r in store.resources()}
    assert len(stored) == 10
    for address, values in state.items():
        if address.startswith("sandbox_"):
            assert stored[values["id"]].attributes == {k: v for k, v in values.items() if k != "id"}, address
    web_1 = state["sandbox_instance.web_1"]
    assert web_1["private_ip"] == "10.20.1.4" and web_1["status"] == "running"
    assert state["sandbox_database.main"]["port"] == 5432

    # nothing changed: plan is empty
    assert terraform.run("plan", "-detailed-exitcode", "-input=false", "-no-color").returncode == 0

    # size and version change in place, keeping ids
    terraform.write(three_tier(required_providers, size="large", db_version="17"))
    assert terraform.planned_actions() == {
        "sandbox_instance.web_1": ["update"],
        "sandbox_instance.web_2": ["update"],
        "sandbox_database.main": ["update"],
    }
    terraform.apply("plan.bin")
    updated = terraform.state()
    assert updated["sandbox_instance.web_1"]["id"] == web_1["id"]
    assert store.get(web_1["id"]).attributes["size"] == "large"  # type: ignore[union-attr]
    assert store.get(updated["sandbox_database.main"]["id"]).attributes["version"] == "17"  # type: ignore[union-attr]

    # a new image forces replacement; the load balancer follows in place
    terraform.write(three_tier(required_providers, size="large", image="debian-12", db_version="17"))
    assert terraform.planned_actions() == {
        "sandbox_instance.web_1": ["delete", "create"],
        "sandbox_instance.web_2": ["delete", "create"],
        "sandbox_load_balancer.web": ["update"],
    }
    terraform.apply("plan.bin")
    replaced = terraform.state()
    new_ids = {replaced[f"sandbox_instance.web_{n}"]["id"] for n in (1, 2)}
    assert web_1["id"] not in new_ids and store.get(web_1["id"]) is None
    lb = store.get(replaced["sandbox_load_balancer.web"]["id"])
    assert lb is not None and set(lb.attributes["instance_ids"]) == new_ids
    assert terraform.run("plan", "-detailed-exitcode", "-input=false", "-no-color").returncode == 0

    terraform.run("destroy", "-auto-approve", "-input=false", "-no-color")
    assert store.resources() == []


def _diagnostics(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line["diagnostic"] for line in lines if line.get("type") == "diagnostic"]


def test_invalid_input_reaches_the_user_as_diagnostics(
    terraform: Terraform, store: SandboxStore, required_providers: dict
) -> None:
    SandboxCloud(store).create("sandbox_bucket", {"name": "taken-name"})
    net = ref("sandbox_network.main")
    config: dict[str, Any] = {
        "terraform": required_providers,
        "resource": {
            "sandbox_network": {"main": {"cidr_block": "10.0.0.1/16"}},
            "sandbox_instance": {"vm": {"subnet_id": "subnet-x", "image": "plan9"}},
        },
    }
    terraform.write(config)
    terraform.init()
    validate = json.loads(terraform.run("validate", "-json", check=False).stdout)
    assert validate["valid"] is False
    found = {(d["summary"], d["snippet"]["code"].strip()) for d in validate["diagnostics"]}
    assert ("Invalid cidr_block", '"cidr_block": "10.0.0.1/16"') in found
    assert ("Unknown image", '"image": "plan9"') in found

    # errors only the cloud can know surface at apply time, still pointing at the attribute
    config["resource"] = {
        "sandbox_network": {"main": {"cidr_block": "10.0.0.0/16"}},
        "sandbox_subnet": {"outside": {"network_id": net, "cidr_block": "10.9.0.0/24"}},
        "sandbox_bucket": {"dup": {"name": "taken-name"}},
    }
    terraform.write(config)
    lines = terraform.json_lines("apply", "-auto-approve", "-input=false", check=False)
    errors = {
        (d["address"], d["summary"], d["snippet"]["code"].strip())
        for d in _diagnostics(lines)
        if d["severity"] == "error"
    }
    assert errors == {
        ("sandbox_subnet.outside", "Subnet outside its network", '"cidr_block": "10.9.0.0/24"'),
        ("sandbox_bucket.dup", "Bucket name already taken", '"name": "taken-name"'),
    }
    assert "sandbox_subnet.outside" not in terraform.state()


def test_out_of_band_changes_show_as_drift(
    terraform: Terraform, store: SandboxStore, required_providers: dict
) -> None:
    terraform.write(three_tier(required_providers))
    terraform.init()
    terraform.apply()
    state = terraform.state()

    console = SandboxConsole(store)
    console.patch(state["sandbox_instance.web_2"]["id"], {"size": "xlarge"})
    console.delete(state["sandbox_database.main"]["id"])

    proc = terraform.run("plan", "-refresh-only", "-json", "-detailed-exitcode", "-input=false", check=False)
    assert proc.returncode == 2, proc.stderr
    drift = [json.loads(line) for line in proc.stdout.splitlines() if '"resource_drift"' in line]
    assert sorted((d["change"]["resource"]["addr"], d["change"]["action"]) for d in drift) == [
        ("sandbox_database.main", "delete"),
        ("sandbox_instance.web_2", "update"),
    ]
    # a normal plan puts things back: resize in place, recreate the database
    assert terraform.planned_actions() == {
        "sandbox_instance.web_2": ["update"],
        "sandbox_database.main": ["create"],
    }


def _fleet(header: dict[str, Any], prefix: str, subnet_id: str, sg_id: str) -> dict[str, Any]:
    """50 resources: 30 instances in a shared subnet, 20 buckets."""
    return {
        "terraform": header,
        "resource": {
            "sandbox_instance": {
                f"vm_{n}": {"subnet_id": subnet_id, "image": "alpine-3.20", "security_group_ids": [sg_id]}
                for n in range(30)
            },
            "sandbox_bucket": {
                f"b_{n}": {"name": f"{prefix}-bucket-{n}", "versioning": n % 2 == 0} for n in range(20)
            },
        },
    }


def _run_together(runs: list[Terraform], *args: str) -> None:
    procs = [
        subprocess.Popen(
            [t.binary, *args],
            cwd=t.workdir,
            env=t.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for t in runs
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, f"{out}\n{err}"


def test_two_concurrent_applies_share_one_store(
    terraform_factory: TerraformFactory, store: SandboxStore, required_providers: dict
) -> None:
    cloud = SandboxCloud(store)
    net = cloud.create("sandbox_network", {"cidr_block": "10.30.0.0/16"})
    subnet = cloud.create("sandbox_subnet", {"network_id": net["id"], "cidr_block": "10.30.0.0/24"})
    sg = cloud.create("sandbox_security_group", {"name": "fleet", "network_id": net["id"]})
    runs = [terraform_factory("alpha"), terraform_factory("beta")]
    for t in runs:
        t.write(_fleet(required_providers, t.workdir.name, subnet["id"], sg["id"]))
        t.init()

    _run_together(runs, "apply", "-auto-approve", "-input=false", "-no-color")

    states = [t.state() for t in runs]
    assert [len(s) for s in states] == [50, 50]
    stored = {r.id: r for r in store.resources()}
    assert len(stored) == 3 + 100
    for state in states:
        for address, values in state.items():
            record = stored[values["id"]]
            assert record.attributes == {k: v for k, v in values.items() if k != "id"}, address
    addresses = [r.attributes["private_ip"] for r in stored.values() if r.type == "sandbox_instance"]
    assert len(addresses) == len(set(addresses)) == 60
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network("10.30.0.0/24") for a in addresses)
    assert sqlite3.connect(store.path).execute("PRAGMA integrity_check").fetchone() == ("ok",)

    _run_together(runs, "destroy", "-auto-approve", "-input=false", "-no-color")
    assert sorted(r.id for r in store.resources()) == sorted([net["id"], subnet["id"], sg["id"]])


def _can_unshare() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    return subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="unshare -n (a network namespace) is not permitted here")
def test_runs_without_any_network(
    terraform: Terraform, store: SandboxStore, required_providers: dict
) -> None:
    terraform.write(three_tier(required_providers))
    netless = ["unshare", "-n", terraform.binary]
    for args in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
        proc = subprocess.run(
            [*netless, *args, "-no-color"],
            cwd=terraform.workdir,
            env=terraform.env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(store.resources()) == 10
    ip = subprocess.run(["unshare", "-n", "cat", "/proc/net/dev"], capture_output=True, text=True).stdout
    assert "eth" not in ip  # the namespace really had no external interface


@pytest.mark.slow
def test_values_unknown_until_apply_pass_validation(terraform: Terraform) -> None:
    """Values computed from module inputs reach the provider as refined unknowns (msgpack ext 12)."""
    module = Path(__file__).resolve().parents[2] / "terraform_modules" / "sandbox_network"
    shutil.copytree(module, terraform.workdir / "net")
    terraform.write('module "net" {\n  source     = "./net"\n  cidr_block = "10.30.0.0/16"\n}\n', "main.tf")
    terraform.init()
    assert "The configuration is valid" in terraform.run("validate", "-no-color").stdout
    terraform.apply()
    subnets = terraform.run("state", "list").stdout.split()
    assert sorted(subnets)[-2:] == ["module.net.sandbox_subnet.this[0]", "module.net.sandbox_subnet.this[1]"]


def test_values_unknown_at_plan_time_plan_and_apply(terraform: Terraform, required_providers: dict) -> None:
    """A conditional on a value known only after apply reaches the provider at plan time as a refined
    unknown map (msgpack ext 12), ``cidrsubnet`` of one as a refined unknown string."""
    source = required_providers["required_providers"]["sandbox"]["source"]
    terraform.write(
        f"""
terraform {{
  required_providers {{
    sandbox = {{ source = "{source}" }}
  }}
}}

resource "sandbox_network" "a" {{ cidr_block = "10.40.0.0/16" }}

resource "sandbox_network" "b" {{
  cidr_block = "10.41.0.0/16"
  tags       = sandbox_network.a.id == "" ? {{}} : {{ net = "a" }}
}}

resource "sandbox_subnet" "s" {{
  network_id = sandbox_network.a.id
  cidr_block = cidrsubnet(sandbox_network.a.arn == "" ? "10.40.0.0/16" : sandbox_network.a.cidr_block, 8, 1)
}}
""",
        "main.tf",
    )
    terraform.init()
    terraform.apply()
    state = terraform.state()
    assert state["sandbox_network.b"]["tags"] == {"net": "a"}
    assert state["sandbox_subnet.s"]["cidr_block"] == "10.40.1.0/24"
    assert terraform.run("plan", "-detailed-exitcode", "-input=false", "-no-color").returncode == 0
