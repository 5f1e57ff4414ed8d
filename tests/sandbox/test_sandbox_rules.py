"""The sandbox cloud's pure rules: addresses, validation, derived values, console value checks."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.sandbox.rules import (
    allocate_ip,
    check_value,
    cidr_inside,
    cidrs_overlap,
    complete,
    computed_on_create,
    parse_cidr,
    references,
    unique_key,
    validate_config,
    validate_update,
)
from app.sandbox.specs import DATA_SOURCES, IMAGES, RESOURCE_TYPES


def attributes_named(problems: list) -> list[str | None]:
    return [p.attribute for p in problems]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("10.0.0.0/16", ""),
        ("10.0.0.1/16", "host bits set; did you mean 10.0.0.0/16?"),
        ("10.0.0.0", "is not an IPv4 CIDR block"),
        ("10.0.0.0/33", "is not an IPv4 CIDR block"),
        ("fd00::/8", "is not an IPv4 CIDR block"),
        ("banana", "is not an IPv4 CIDR block"),
    ],
)
def test_parse_cidr_explains_what_is_wrong(value: str, reason: str) -> None:
    net, why = parse_cidr(value)
    assert (net is None) == bool(reason)
    assert reason in why


def test_containment_and_overlap() -> None:
    assert cidr_inside("10.0.1.0/24", "10.0.0.0/16")
    assert not cidr_inside("10.1.0.0/24", "10.0.0.0/16")
    assert not cidr_inside("10.0.0.0/15", "10.0.0.0/16")
    assert cidrs_overlap("10.0.0.0/24", "10.0.0.128/25")
    assert not cidrs_overlap("10.0.0.0/25", "10.0.0.128/25")


def test_allocate_ip_skips_reserved_and_used_and_reports_full() -> None:
    assert allocate_ip("10.0.1.0/24", []) == "10.0.1.4"
    assert allocate_ip("10.0.1.0/24", ["10.0.1.4", "10.0.1.6"]) == "10.0.1.5"
    full = [f"10.0.2.{n}" for n in range(4, 15)]  # /28: 16 addresses, 4 reserved, broadcast
    assert allocate_ip("10.0.2.0/28", full) is None
    assert allocate_ip("10.0.2.0/28", full[:-1]) == "10.0.2.14"


@given(
    prefix=st.integers(min_value=24, max_value=28),
    third=st.integers(min_value=0, max_value=255),
    taken=st.sets(st.integers(min_value=0, max_value=255), max_size=40),
)
def test_allocated_address_is_a_free_usable_host_of_the_subnet(
    prefix: int, third: int, taken: set[int]
) -> None:
    net = ipaddress.ip_network(f"10.9.{third}.0/{prefix}", strict=False)
    used = [str(net.network_address + (n % net.num_addresses)) for n in taken]
    address = allocate_ip(str(net), used)
    usable = [str(h) for h in list(net.hosts())[3:]]  # hosts() skips network & broadcast; 3 more reserved
    free = [h for h in usable if h not in used]
    assert address == (free[0] if free else None)


@pytest.mark.parametrize(
    ("type_name", "config", "attribute", "words"),
    [
        ("sandbox_network", {"cidr_block": "10.0.0.0/8"}, "cidr_block", "/16 to /28"),
        ("sandbox_network", {"cidr_block": "10.0.0.9/16"}, "cidr_block", "host bits"),
        ("sandbox_subnet", {"zone": "mars-1a"}, "zone", "sandbox-1a"),
        ("sandbox_instance", {"image": "plan9"}, "image", "ubuntu-24.04"),
        ("sandbox_instance", {"size": "huge"}, "size", "xlarge"),
        ("sandbox_instance", {"boot_seconds": 601}, "boot_seconds", "0 to 600"),
        ("sandbox_bucket", {"name": "Has_Upper"}, "name", "lowercase"),
        ("sandbox_bucket", {"acl": "public-write"}, "acl", "public-read"),
        ("sandbox_database", {"engine": "oracle"}, "engine", "postgres"),
        ("sandbox_database", {"engine": "postgres", "version": "8.0"}, "version", "16"),
        ("sandbox_database", {"storage_gb": 10}, "storage_gb", "20 to 16384"),
        ("sandbox_load_balancer", {"name": "-bad"}, "name", "1-32"),
        ("sandbox_load_balancer", {"subnet_ids": []}, "subnet_ids", "at least one"),
        (
            "sandbox_security_group",
            {"ingress": [{"protocol": "tcp", "from_port": 9, "to_port": 8}]},
            "ingress",
            "greater",
        ),
        ("sandbox_security_group", {"egress": [{"protocol": "gre"}]}, "egress", "not one of"),
        ("sandbox_security_group", {"ingress": [{"cidr_blocks": ["10.0.0.0/40"]}]}, "ingress", "CIDR"),
        ("sandbox_network", {"tags": {"sandbox:owner": "x"}}, "tags", "sandbox:"),
        ("sandbox_image", {"name": "plan9"}, "name", "no image is named"),
    ],
)
def test_invalid_configuration_names_the_attribute(
    type_name: str, config: dict, attribute: str, words: str
) -> None:
    problems = validate_config(type_name, config)
    assert attributes_named(problems) == [attribute]
    assert words in problems[0].detail


def test_valid_configurations_pass_and_unknown_values_are_not_judged() -> None:
    good = {
        "sandbox_network": {"cidr_block": "10.0.0.0/16", "tags": {"env": "dev"}},
        "sandbox_subnet": {"cidr_block": "10.0.1.0/24", "zone": "sandbox-1b"},
        "sandbox_instance": {"image": IMAGES[0].id, "size": "small", "boot_seconds": 0},
        "sandbox_bucket": {"name": "my.site-assets", "acl": "public-read", "versioning": True},
        "sandbox_database": {"name": "orders", "engine": "mysql", "version": "8.4", "storage_gb": 100},
        "sandbox_security_group": {"ingress": [{"protocol": "tcp", "from_port": 443, "to_port": 443}]},
        "sandbox_image": {"name": "debian-12"},
    }
    for type_name, config in good.items():
        assert validate_config(type_name, config) == [], type_name
    # values Terraform does not know yet are simply absent
    assert validate_config("sandbox_subnet", {}) == []


def test_database_refuses_downgrade_and_shrink_in_place() -> None:
    prior = {"version": "16", "storage_gb": 50}
    assert validate_update("sandbox_database", prior, {"version": "17", "storage_gb": 60}) == []
    problems = validate_update("sandbox_database", prior, {"version": "15", "storage_gb": 20})
    assert attributes_named(problems) == ["version", "storage_gb"]
    assert validate_update("sandbox_instance", {"size": "large"}, {"size": "nano"}) == []


def test_references_and_unique_keys() -> None:
    attrs = {"subnet_id": "subnet-1", "security_group_ids": ["sg-2", "sg-1"], "image": "debian-12"}
    assert references("sandbox_instance", attrs) == [
        ("security_group_ids", "sg-1", False),
        ("security_group_ids", "sg-2", False),
        ("subnet_id", "subnet-1", True),
    ]
    assert unique_key("sandbox_bucket", {"name": "logs"}) == "bucket:logs"
    assert unique_key("sandbox_database", {"name": "logs"}) is None


def test_computed_values_on_create() -> None:
    spec = RESOURCE_TYPES["sandbox_database"]
    values = computed_on_create(spec, "db-0123abcd", {"name": "orders", "engine": "mysql"})
    assert values["port"] == 3306
    assert values["endpoint"] == "orders.0123abcd.sandbox-1.db.sandbox.internal"
    assert values["arn"] == "arn:sandbox:database:sandbox-1:000000000000:database/db-0123abcd"
    assert values["storage_gb"] == 20  # default of an optional+computed attribute
    bucket = computed_on_create(
        RESOURCE_TYPES["sandbox_bucket"], "bkt-1", {"name": "site", "acl": "public-read"}
    )
    assert bucket["url"] == "https://site.storage.sandbox-1.sandbox.internal"
    assert bucket["versioning"] is False and "acl" not in bucket


def test_complete_fills_every_field_and_normalises_rules() -> None:
    spec = RESOURCE_TYPES["sandbox_security_group"]
    out = complete(
        spec, {"id": "sg-1", "name": "web", "ingress": [{"protocol": "tcp", "from_port": 1, "to_port": 2}]}
    )
    assert "id" not in out
    assert set(out) == set(spec.field_names) - {"id"}
    assert out["ingress"] == [
        {"protocol": "tcp", "from_port": 1, "to_port": 2, "cidr_blocks": None, "description": None}
    ]
    assert out["egress"] == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("size", "xlarge", None),
        ("status", "stopped", None),
        ("tags", None, None),
        ("size", 3, "must be a string"),
        ("subnet_id", None, "is required"),
        ("boot_seconds", True, "must be a number"),
        ("security_group_ids", ["sg-1", 2], "list of strings"),
        ("tags", {"a": 1}, "object of strings"),
        ("colour", "red", "has no attribute 'colour'"),
        ("id", "i-2", "cannot be changed"),
    ],
)
def test_console_values_must_fit_the_attribute_type(name: str, value: object, message: str | None) -> None:
    result = check_value(RESOURCE_TYPES["sandbox_instance"], name, value)
    if message is None:
        assert result is None
    else:
        assert result is not None and message in result


def test_console_rule_values_are_checked_field_by_field() -> None:
    spec = RESOURCE_TYPES["sandbox_security_group"]
    assert check_value(spec, "ingress", [{"protocol": "tcp", "from_port": 1, "to_port": 2}]) is None
    assert "required" in (check_value(spec, "ingress", [{"protocol": "tcp", "from_port": 1}]) or "")
    assert "no field" in (check_value(spec, "ingress", [{"protocol": "tcp", "port": 1}]) or "")
    assert "list of rule objects" in (check_value(spec, "egress", "all") or "")


def test_specs_are_consistent() -> None:
    for spec in [*RESOURCE_TYPES.values(), *DATA_SOURCES.values()]:
        names = [a.name for a in spec.attributes]
        assert len(names) == len(set(names)), spec.name
        for attr in spec.attributes:
            assert attr.required + attr.optional <= 1, (spec.name, attr.name)
            assert attr.required or attr.optional or attr.computed, (spec.name, attr.name)
            assert not attr.has_default or (attr.optional and attr.computed), (spec.name, attr.name)
            assert attr.reference is None or attr.reference in RESOURCE_TYPES, (spec.name, attr.name)
            # containment references force replacement, so Terraform always deletes dependents first
            assert not attr.dependency or attr.replace, (spec.name, attr.name)
