"""The sandbox cloud's API semantics against a real store, without Terraform."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from app.sandbox.cloud import CloudError, SandboxCloud
from app.sandbox.store import SandboxStore


@pytest.fixture
def cloud(store: SandboxStore) -> SandboxCloud:
    return SandboxCloud(store)


def refused(call: Any, *args: Any) -> list[str | None]:
    """Attributes named by the CloudError that ``call(*args)`` raises."""
    with pytest.raises(CloudError) as caught:
        call(*args)
    return [p.attribute for p in caught.value.problems]


@pytest.fixture
def network(cloud: SandboxCloud) -> dict[str, Any]:
    return cloud.create("sandbox_network", {"cidr_block": "10.0.0.0/16"})


@pytest.fixture
def subnet(cloud: SandboxCloud, network: dict[str, Any]) -> dict[str, Any]:
    return cloud.create("sandbox_subnet", {"network_id": network["id"], "cidr_block": "10.0.1.0/24"})


def test_create_assigns_ids_and_computed_values(cloud: SandboxCloud, network: dict, subnet: dict) -> None:
    assert network["id"].startswith("net-") and network["arn"].endswith(f"network/{network['id']}")
    assert subnet["zone"] == "sandbox-1a"
    instance = cloud.create(
        "sandbox_instance", {"subnet_id": subnet["id"], "image": "debian-12", "size": "nano"}
    )
    assert instance["private_ip"] == "10.0.1.4" and instance["status"] == "running"
    assert cloud.read("sandbox_instance", instance["id"]) == instance


def test_subnet_must_lie_inside_its_network_and_not_overlap(
    cloud: SandboxCloud, network: dict, subnet: dict
) -> None:
    outside = {"network_id": network["id"], "cidr_block": "10.1.0.0/24"}
    assert refused(cloud.create, "sandbox_subnet", outside) == ["cidr_block"]
    overlapping = {"network_id": network["id"], "cidr_block": "10.0.1.128/25"}
    assert refused(cloud.create, "sandbox_subnet", overlapping) == ["cidr_block"]
    assert refused(
        cloud.create, "sandbox_subnet", {"network_id": "net-nope", "cidr_block": "10.0.2.0/24"}
    ) == ["network_id"]


def test_unset_optional_values_are_chosen_by_the_cloud(cloud: SandboxCloud, subnet: dict) -> None:
    db = cloud.create("sandbox_database", {"engine": "mysql", "subnet_ids": [subnet["id"]]})
    suffix = db["id"].split("-", 1)[1]
    assert (db["name"], db["version"], db["size"], db["storage_gb"]) == (
        f"db-{suffix[:8]}",
        "8.4",
        "small",
        20,
    )
    assert db["endpoint"].startswith(f"{db['name']}.{suffix}.") and db["port"] == 3306
    lb = cloud.create("sandbox_load_balancer", {"subnet_ids": [subnet["id"]]})
    assert lb["name"].startswith("lb-") and lb["dns_name"].startswith(lb["name"] + "-")
    assert lb["listener_port"] == 80
    # an update that leaves them unset keeps what the cloud chose
    kept = cloud.update("sandbox_database", db["id"], {**db, "name": None, "version": None, "size": "large"})
    assert (kept["name"], kept["version"], kept["size"]) == (db["name"], "8.4", "large")


def test_bucket_names_are_global(cloud: SandboxCloud) -> None:
    cloud.create("sandbox_bucket", {"name": "site"})
    with pytest.raises(CloudError) as caught:
        cloud.create("sandbox_bucket", {"name": "site"})
    problem = caught.value.problems[0]
    assert problem.attribute == "name" and "already exists" in problem.detail


def test_security_groups_must_share_the_instance_network(cloud: SandboxCloud, subnet: dict) -> None:
    other = cloud.create("sandbox_network", {"cidr_block": "10.5.0.0/16"})
    foreign = cloud.create("sandbox_security_group", {"name": "x", "network_id": other["id"]})
    config = {
        "subnet_id": subnet["id"],
        "image": "debian-12",
        "size": "nano",
        "security_group_ids": [foreign["id"]],
    }
    assert refused(cloud.create, "sandbox_instance", config) == ["security_group_ids"]


def test_concurrent_instances_get_distinct_addresses_until_the_subnet_is_full(
    cloud: SandboxCloud, network: dict
) -> None:
    small = cloud.create("sandbox_subnet", {"network_id": network["id"], "cidr_block": "10.0.9.0/28"})
    config = {"subnet_id": small["id"], "image": "alpine-3.20", "size": "nano"}

    def launch(_: int) -> str | None:
        try:
            return cloud.create("sandbox_instance", config)["private_ip"]
        except CloudError as exc:
            assert exc.problems[0].summary == "Subnet is full"
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        addresses = list(pool.map(launch, range(14)))
    allocated = [a for a in addresses if a is not None]
    assert sorted(allocated, key=lambda a: int(a.rsplit(".", 1)[1])) == [f"10.0.9.{n}" for n in range(4, 15)]


def test_slow_boot_does_not_hold_the_store(cloud: SandboxCloud, subnet: dict) -> None:
    slow = {"subnet_id": subnet["id"], "image": "debian-12", "size": "nano", "boot_seconds": 0.5}
    with ThreadPoolExecutor(max_workers=4) as pool:
        started = time.monotonic()
        list(pool.map(lambda _: cloud.create("sandbox_instance", slow), range(4)))
        elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 1.5  # four boots overlapped instead of queueing for 2 s


def test_update_in_place_keeps_identity_and_checks_rules(cloud: SandboxCloud, subnet: dict) -> None:
    db = cloud.create(
        "sandbox_database",
        {
            "name": "orders",
            "engine": "postgres",
            "version": "15",
            "size": "small",
            "subnet_ids": [subnet["id"]],
        },
    )
    upgraded = cloud.update("sandbox_database", db["id"], {**db, "version": "16", "size": "large"})
    assert upgraded["id"] == db["id"] and upgraded["endpoint"] == db["endpoint"]
    assert (upgraded["version"], upgraded["size"]) == ("16", "large")
    assert refused(cloud.update, "sandbox_database", db["id"], {**upgraded, "version": "14"}) == ["version"]
    cloud.delete("sandbox_database", db["id"])
    assert refused(cloud.update, "sandbox_database", db["id"], upgraded) == ["id"]


def test_delete_refuses_while_contents_remain(cloud: SandboxCloud, network: dict, subnet: dict) -> None:
    with pytest.raises(CloudError) as caught:
        cloud.delete("sandbox_network", network["id"])
    assert subnet["id"] in str(caught.value)
    cloud.delete("sandbox_subnet", subnet["id"])
    cloud.delete("sandbox_network", network["id"])
    cloud.delete("sandbox_network", network["id"])  # already gone: fine
    assert cloud.read("sandbox_network", network["id"]) is None


def test_read_of_another_type_is_gone(cloud: SandboxCloud, network: dict) -> None:
    assert cloud.read("sandbox_subnet", network["id"]) is None
