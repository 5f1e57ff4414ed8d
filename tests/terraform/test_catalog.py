from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.terraform.catalog import build_catalog, load_catalog, property_spec
from app.terraform.catalog_types import CatalogError
from app.terraform.types import parse_type


def test_seed_catalog_covers_the_three_clouds_sandbox_and_terraform_data(catalog):
    per_provider: dict[str, int] = {}
    for ntype in catalog.types.values():
        if ntype.kind == "resource":
            per_provider[ntype.provider] = per_provider.get(ntype.provider, 0) + 1
    assert per_provider["aws"] >= 30
    assert per_provider["google"] >= 10
    assert per_provider["azurerm"] >= 10
    assert "terraform_data" in catalog.types
    for t in ("network", "subnet", "security_group", "instance", "bucket", "database", "load_balancer"):
        assert f"sandbox_{t}" in catalog.types
    assert "data.sandbox_image" in catalog.types
    assert catalog.providers["sandbox"].source == "board3.local/board3/sandbox"
    categories = {t.spec.category for t in catalog.types.values() if t.provider == "aws"}
    assert {
        "networking",
        "compute",
        "storage",
        "databases",
        "load_balancers",
        "iam",
        "dns",
        "serverless",
    } <= categories


def test_every_reference_rule_points_at_a_known_type_and_attribute(catalog):
    for ntype in catalog.types.values():
        for rule in ntype.spec.references:
            assert property_spec(ntype.spec, rule.property) is not None
            for target in rule.targets:
                if target == "*":
                    continue
                tt = catalog.get(target)
                assert tt is not None, f"{ntype.type}.{rule.property} -> unknown {target}"
                assert (
                    rule.attribute == "id"
                    or rule.attribute in tt.spec.attributes
                    or rule.attribute in (tt.spec.properties)
                ), f"{ntype.type}.{rule.property} -> {target}.{rule.attribute}"


def test_every_property_type_parses(catalog):
    for ntype in catalog.types.values():
        for spec in ntype.spec.properties.values():
            if spec.block is None:
                parse_type(spec.type)


def test_reference_rules_answer_the_documented_examples(catalog):
    subnet = catalog.rule_for("aws_subnet", "aws_vpc", None)
    assert subnet is not None and (subnet.property, subnet.attribute, subnet.is_list) == (
        "vpc_id",
        "id",
        False,
    )
    sg = catalog.rule_for("aws_instance", "aws_security_group", None)
    assert sg is not None and (sg.property, sg.is_list) == ("vpc_security_group_ids", True)
    assert catalog.rule_for("aws_instance", "aws_vpc", None) is None
    sandbox = catalog.rule_for("sandbox_subnet", "sandbox_network", None)
    assert sandbox is not None and sandbox.property == "network_id"


def test_bundled_modules_are_node_types_with_inputs_and_outputs(catalog):
    label = catalog.module("module.label")
    assert label is not None
    assert label.inputs["name"].required and not label.inputs["environment"].required
    assert set(label.outputs) == {"id", "name", "tags"}
    assert catalog.module("module.aws_network").providers == ["aws"]
    assert catalog.kind_of("module.nope") is None


def test_extension_overrides_seed_type_but_keeps_its_reference_rules(catalog):
    seeds = [("aws.json", json.loads(Path("seeds/catalog/aws.json").read_text()))]
    ext = {
        "provider": "aws",
        "source": "hashicorp/aws",
        "resources": {
            "aws_subnet": {
                "complete": True,
                "properties": {
                    "vpc_id": {"type": "string", "required": True},
                    "ipv6_native": {"type": "bool"},
                },
            },
            "aws_brand_new": {"properties": {"x": {"type": "string"}}},
        },
    }
    merged = build_catalog(seeds, [("ext", ext)])
    subnet = merged.get("aws_subnet")
    assert subnet is not None and subnet.spec.complete
    assert "ipv6_native" in subnet.spec.properties
    assert [r.property for r in subnet.spec.references] == ["vpc_id"]
    assert subnet.spec.category == "networking"
    assert merged.get("aws_brand_new") is not None


@pytest.mark.parametrize(
    "doc",
    [
        {
            "provider": "x",
            "source": "a/x",
            "resources": {"x_a": {"properties": {"p": {"type": "lisst(string)"}}}},
        },
        {
            "provider": "x",
            "source": "a/x",
            "resources": {"x_a": {"references": [{"property": "nope", "targets": ["x_b"]}]}},
        },
        {"provider": "x", "source": "a/x", "resources": {"bad name": {}}},
        {"provider": "x", "source": "a/x", "unexpected": 1},
    ],
)
def test_malformed_documents_are_refused_with_their_origin(doc):
    with pytest.raises(CatalogError, match=r"origin\.json"):
        build_catalog([("origin.json", doc)])


def test_user_extensions_are_read_from_the_data_dir(tmp_path):
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "acme.json").write_text(
        json.dumps({"provider": "acme", "source": "acme/acme", "resources": {"acme_widget": {}}})
    )
    cat = load_catalog(tmp_path)
    assert cat.get("acme_widget") is not None and cat.get("aws_vpc") is not None
