from __future__ import annotations

from app.terraform.canvas import Canvas, Edge, Node
from app.terraform.hclsyntax import expr
from app.terraform.samples import aws_design, offline_design
from app.terraform.validate import explicit_attributes, validate


def codes(result) -> list[tuple[str, str | None, int | None]]:
    return [(p.code, p.node, p.edge) for p in result.problems]


def test_valid_designs_have_no_problems(catalog):
    for canvas in (aws_design(60), offline_design(30)):
        result = validate(canvas, catalog)
        assert result.valid and result.problems == []


def test_every_problem_is_reported_at_once_with_code_and_location(catalog):
    canvas = Canvas(
        nodes=[
            Node(id="vpc", type="aws_vpc", name="main"),
            Node(id="vpc2", type="aws_vpc", name="main"),
            Node(id="subnet", type="aws_subnet", name="a"),
            Node(id="weird", type="aws_warp_drive", name="x"),
            Node(id="badname", type="aws_s3_bucket", name="1-bucket"),
            Node(
                id="db",
                type="aws_db_instance",
                name="db",
                properties={"instance_class": "db.t3.micro", "multi_az": "often"},
            ),
            Node(id="bucket", type="aws_s3_bucket", name="b"),
            Node(id="out", type="output", name="o", properties={"value": expr("var.missing")}),
            Node(id="mod", type="module.label", name="lbl", properties={"name": "x", "colour": "red"}),
        ],
        edges=[
            Edge(source="subnet", target="bucket"),
            Edge(source="subnet", target="bucket", attribute="vpc_id"),
        ],
    )
    found = codes(validate(canvas, catalog))
    assert ("duplicate-address", "vpc2", None) in found
    assert ("missing-required-property", "subnet", None) in found
    assert ("unknown-type", "weird", None) in found
    assert ("invalid-name", "badname", None) in found
    assert ("wrong-type", "db", None) in found
    assert ("edge-not-allowed", None, 1) in found
    assert ("missing-variable", "out", None) in found
    assert ("unknown-module-input", "mod", None) in found
    assert len(found) >= 8


def test_missing_required_property_is_satisfied_by_an_edge(catalog):
    canvas = Canvas(
        nodes=[Node(id="v", type="aws_vpc", name="v"), Node(id="s", type="aws_subnet", name="s")],
        edges=[Edge(source="s", target="v")],
    )
    assert validate(canvas, catalog).valid


def test_cycles_are_reported_with_their_path_of_names(catalog):
    canvas = Canvas(
        nodes=[Node(id=x, type="terraform_data", name=f"n_{x}") for x in "abc"],
        edges=[Edge(source="a", target="b"), Edge(source="b", target="c"), Edge(source="c", target="a")],
    )
    [problem] = validate(canvas, catalog).problems
    assert problem.code == "cycle"
    assert problem.message == (
        "dependency cycle: terraform_data.n_a -> terraform_data.n_b -> terraform_data.n_c"
        " -> terraform_data.n_a"
    )


def test_cycle_through_an_expression_is_found(catalog):
    canvas = Canvas(
        nodes=[
            Node(
                id="a", type="terraform_data", name="a", properties={"input": expr("terraform_data.b.output")}
            ),
            Node(id="b", type="terraform_data", name="b"),
        ],
        edges=[Edge(source="a", target="b", attribute="input"), Edge(source="b", target="a")],
    )
    assert [p.code for p in validate(canvas, catalog).problems] == ["cycle"]


def test_expressions_must_parse_and_reference_existing_nodes_with_edges(catalog):
    canvas = Canvas(
        nodes=[
            Node(id="a", type="terraform_data", name="a", properties={"input": expr("1\nresource x y {")}),
            Node(id="b", type="terraform_data", name="b", properties={"input": expr("terraform_data.a.id")}),
            Node(id="c", type="terraform_data", name="c", properties={"input": expr("module.nope.x")}),
            Node(id="d", type="terraform_data", name="d", properties={"input": expr('file("/etc/passwd")')}),
        ]
    )
    found = {(p.code, p.node) for p in validate(canvas, catalog).problems}
    assert found == {
        ("invalid-expression", "a"),
        ("missing-edge", "b"),
        ("missing-reference", "c"),
        ("forbidden-function", "d"),
    }


def test_module_inputs_outputs_and_variables(catalog):
    canvas = Canvas(
        nodes=[
            Node(id="env", type="variable", name="env", properties={"type": "string", "default": 3}),
            Node(id="m", type="module.label", name="m"),
            Node(id="o", type="output", name="o"),
            Node(id="o2", type="output", name="o2"),
        ],
        edges=[
            Edge(source="o", target="m", attribute="nope"),
            Edge(source="m", target="env", attribute="name"),
        ],
    )
    found = codes(validate(canvas, catalog))
    assert ("missing-module-output", None, 0) in found
    assert ("output-without-value", "o2", None) in found
    assert not any(c == "missing-required-property" for c, _, _ in found)  # name comes from the edge


def test_variable_default_must_match_its_type(catalog):
    canvas = Canvas(
        nodes=[Node(id="v", type="variable", name="v", properties={"type": "list(number)", "default": ["a"]})]
    )
    [p] = validate(canvas, catalog).problems
    assert p.code == "wrong-type" and "[0]" in p.message


def test_property_conflicts_and_meta_arguments(catalog):
    canvas = Canvas(
        nodes=[
            Node(id="v", type="aws_vpc", name="v"),
            Node(id="v2", type="aws_vpc", name="v2"),
            Node(
                id="s",
                type="aws_subnet",
                name="s",
                properties={"vpc_id": "vpc-1", "count": 3, "provisioner": {}},
            ),
        ],
        edges=[Edge(source="s", target="v"), Edge(source="s", target="v2")],
    )
    found = [c for c, _, _ in codes(validate(canvas, catalog))]
    assert found.count("property-conflict") == 2
    assert found.count("reserved-property") == 1
    assert found.count("runs-programs") == 1


def _with_external(catalog):
    """The catalog plus what a user could import: the ``external`` provider's data source, and a
    resource type whose schema (wrongly) lists provisioner blocks."""
    from app.terraform.catalog import build_catalog, read_catalog_sources

    seeds, _, modules = read_catalog_sources(None)
    extension = {
        "provider": "external",
        "source": "hashicorp/external",
        "data_sources": {"external": {"complete": True, "properties": {"program": {"type": "list(string)"}}}},
        "resources": {
            "external_thing": {
                "properties": {
                    "provisioner": {"block": "list", "properties": {"command": {"type": "string"}}},
                    "connection": {"block": "single", "properties": {"host": {"type": "string"}}},
                }
            }
        },
    }
    return build_catalog(seeds, [("test-extension", extension)], modules)


def test_nothing_in_a_design_can_make_terraform_run_programs(catalog):
    """A worker runs terraform on a design: provisioners (local-exec, remote-exec), their
    connection, and the external data source would run programs there. Each is refused."""
    extended = _with_external(catalog)
    cases = {
        "local-exec": Node(
            id="a",
            type="terraform_data",
            name="a",
            properties={"provisioner": {"local-exec": {"command": "id"}}},
        ),
        "remote-exec": Node(
            id="a",
            type="terraform_data",
            name="a",
            properties={"provisioner": [{"remote-exec": {"inline": ["id"]}}]},
        ),
        "connection": Node(id="a", type="terraform_data", name="a", properties={"connection": {"host": "x"}}),
        "external data source": Node(
            id="a", type="data.external", name="a", properties={"program": ["sh", "-c", "id"]}
        ),
        "provisioner from a catalog": Node(
            id="a", type="external_thing", name="a", properties={"provisioner": [{"command": "id"}]}
        ),
    }
    for case, node in cases.items():
        result = validate(Canvas(nodes=[node]), extended)
        found = [c for c, _, _ in codes(result)]
        assert "runs-programs" in found, (case, found)
        assert not result.valid, case


def test_explicit_attributes_spell_out_what_edges_set(catalog):
    canvas = aws_design(30)
    explicit = explicit_attributes(canvas, catalog)
    attrs = {(e.source, e.target): e.attribute for e in explicit.edges}
    assert attrs[("subnet0-0", "vpc-0")] == "vpc_id"
    assert attrs[("vm0-0", "sg-0")] == "vpc_security_group_ids"
    assert attrs[("out-0", "lb-0")] == "dns_name"
