from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.lib.errors import ValidationFailed
from app.terraform.canvas import Canvas, Edge, Node
from app.terraform.codegen_hcl import generate_hcl
from app.terraform.codegen_json import generate_json
from app.terraform.hcl_reader import import_files
from app.terraform.hclsyntax import expr
from app.terraform.state_reader import import_state
from app.terraform.validate import explicit_attributes, validate

from .conftest import NETWORK_TF

HCL = (
    NETWORK_TF
    + """
resource "aws_security_group" "web" {
  vpc_id = aws_vpc.main.id
}

resource "aws_instance" "web" {
  subnet_id              = aws_subnet.a.id
  vpc_security_group_ids = [aws_security_group.web.id]
  instance_type          = "t3.micro"
  depends_on             = [aws_vpc.main]
}

output "vpc" {
  value = aws_vpc.main.arn
}
"""
)


def test_hcl_files_become_nodes_edges_parents_and_positions(catalog):
    result = import_files({"main.tf": HCL, "README.md": "ignored"}, catalog)
    canvas = result.canvas
    nodes = {n.id: n for n in canvas.nodes}
    assert set(nodes) == {
        "var.env",
        "aws_vpc.main",
        "aws_subnet.a",
        "aws_security_group.web",
        "aws_instance.web",
        "output.vpc",
    }
    edges = {(e.source, e.target, e.attribute) for e in canvas.edges}
    assert edges == {
        ("aws_vpc.main", "var.env", "tags"),
        ("aws_subnet.a", "aws_vpc.main", "vpc_id"),
        ("aws_subnet.a", "aws_vpc.main", "cidr_block"),
        ("aws_security_group.web", "aws_vpc.main", "vpc_id"),
        ("aws_instance.web", "aws_subnet.a", "subnet_id"),
        ("aws_instance.web", "aws_security_group.web", "vpc_security_group_ids"),
        ("aws_instance.web", "aws_vpc.main", "depends_on"),
        ("output.vpc", "aws_vpc.main", "arn"),
    }
    assert nodes["aws_subnet.a"].properties == {
        "cidr_block": expr("cidrsubnet(aws_vpc.main.cidr_block, 8, 1)")
    }
    assert nodes["aws_vpc.main"].properties["tags"] == {"Name": expr('"main-${var.env}"')}
    assert nodes["aws_instance.web"].parent == "aws_subnet.a"
    assert nodes["aws_subnet.a"].parent == "aws_vpc.main"
    assert all(n.position is not None for n in canvas.nodes)
    assert nodes["aws_vpc.main"].position.x < nodes["output.vpc"].position.x  # dependencies on the left
    assert validate(canvas, catalog).valid


def test_unparseable_file_names_file_and_line(catalog):
    with pytest.raises(ValidationFailed) as info:
        import_files(
            {"ok.tf": 'variable "x" {}\n', "broken.tf": 'resource "a" "b" {\n  x = = 1\n}\n'}, catalog
        )
    [error] = info.value.errors
    assert error.field == "files.broken.tf" and error.message.startswith("line 2")
    with pytest.raises(ValidationFailed) as info:
        import_files({"main.tf.json": '{"resource": \n {'}, catalog)
    assert info.value.errors[0].field == "files.main.tf.json"


def test_locals_and_foreign_modules_are_reported_as_warnings(catalog):
    result = import_files(
        {"main.tf": 'locals {\n  a = 1\n}\nmodule "m" {\n  source = "hashicorp/x/aws"\n}\n'}, catalog
    )
    assert any("locals" in w for w in result.warnings)
    assert any("module m" in w and "not a bundled module" in w for w in result.warnings)
    assert result.canvas.nodes[0].type == "module.aws"


def eks_canvas() -> Canvas:
    """A cluster whose subnets and security group are set inside its ``vpc_config`` block by edges."""
    return Canvas(
        nodes=[
            Node(id="vpc", type="aws_vpc", name="main", properties={"cidr_block": "10.0.0.0/16"}),
            Node(id="a", type="aws_subnet", name="a", properties={"cidr_block": "10.0.1.0/24"}, parent="vpc"),
            Node(id="b", type="aws_subnet", name="b", properties={"cidr_block": "10.0.2.0/24"}, parent="vpc"),
            Node(id="sg", type="aws_security_group", name="eks", parent="vpc"),
            Node(id="role", type="aws_iam_role", name="eks", properties={"assume_role_policy": "{}"}),
            Node(id="eks", type="aws_eks_cluster", name="main", properties={"name": "main"}),
        ],
        edges=[
            Edge(source="a", target="vpc"),
            Edge(source="b", target="vpc"),
            Edge(source="sg", target="vpc"),
            Edge(source="eks", target="role"),
            Edge(source="eks", target="a", attribute="vpc_config.subnet_ids"),
            Edge(source="eks", target="b", attribute="vpc_config.subnet_ids"),
            Edge(source="eks", target="sg", attribute="vpc_config.security_group_ids"),
        ],
    )


@pytest.mark.parametrize("fmt", ["json", "hcl"])
def test_references_inside_a_nested_block_are_edges_both_ways(catalog, fmt):
    canvas = eks_canvas()
    assert validate(canvas, catalog).valid, validate(canvas, catalog).problems
    doc = json.loads(generate_json(canvas, catalog))
    assert doc["resource"]["aws_eks_cluster"]["main"]["vpc_config"] == [
        {
            "security_group_ids": ["${aws_security_group.eks.id}"],
            "subnet_ids": ["${aws_subnet.a.id}", "${aws_subnet.b.id}"],
        }
    ]
    files = {"main.tf.json": json.dumps(doc)} if fmt == "json" else generate_hcl(canvas, catalog)
    imported = import_files(files, catalog).canvas
    [eks] = [n for n in imported.nodes if n.type == "aws_eks_cluster"]
    assert eks.properties == {"name": "main"}  # the block is regenerated by the edges alone
    assert comparable(imported, catalog) == comparable(canvas, catalog)


STATE = {
    "version": 4,
    "terraform_version": "1.11.4",
    "serial": 3,
    "lineage": "x",
    "outputs": {},
    "resources": [
        {
            "mode": "managed",
            "type": "aws_vpc",
            "name": "main",
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [
                {
                    "schema_version": 1,
                    "attributes": {
                        "id": "vpc-1",
                        "arn": "arn:vpc",
                        "cidr_block": "10.0.0.0/16",
                        "tags": {},
                        "owner_id": "1",
                    },
                }
            ],
        },
        {
            "mode": "managed",
            "type": "aws_subnet",
            "name": "a",
            "provider": "p",
            "instances": [
                {
                    "index_key": 0,
                    "attributes": {"id": "subnet-1", "vpc_id": "vpc-1", "cidr_block": "10.0.1.0/24"},
                    "dependencies": ["aws_vpc.main"],
                },
                {
                    "index_key": 1,
                    "attributes": {"id": "subnet-2", "vpc_id": "vpc-1", "cidr_block": "10.0.2.0/24"},
                    "dependencies": ["aws_vpc.main"],
                },
            ],
        },
        {
            "mode": "managed",
            "type": "aws_db_instance",
            "name": "db",
            "provider": "p",
            "instances": [
                {
                    "attributes": {
                        "id": "db-1",
                        "instance_class": "db.t3.micro",
                        "password": "hunter2",
                        "address": "h",
                    },
                    "sensitive_attributes": [[{"type": "get_attr", "value": "password"}]],
                    "dependencies": ["aws_subnet.a", "aws_vpc.main"],
                }
            ],
        },
        {"mode": "data", "type": "aws_ami", "name": "x", "instances": [{"attributes": {"id": "ami-1"}}]},
        {
            "module": "module.net",
            "mode": "managed",
            "type": "aws_vpc",
            "name": "inner",
            "instances": [{"attributes": {}}],
        },
    ],
}


def test_state_resources_become_nodes_and_dependencies_edges(catalog):
    result = import_state(json.dumps(STATE), catalog)
    nodes = {n.id: n for n in result.canvas.nodes}
    assert set(nodes) == {"aws_vpc.main", "aws_subnet.a_0", "aws_subnet.a_1", "aws_db_instance.db"}
    assert nodes["aws_vpc.main"].properties == {"cidr_block": "10.0.0.0/16"}  # id, arn, owner_id, {} dropped
    assert nodes["aws_subnet.a_0"].properties == {
        "cidr_block": "10.0.1.0/24"
    }  # vpc_id now comes from the edge
    assert nodes["aws_subnet.a_0"].parent == "aws_vpc.main"
    assert "password" not in nodes["aws_db_instance.db"].properties
    edges = {(e.source, e.target, e.attribute) for e in result.canvas.edges}
    assert ("aws_subnet.a_0", "aws_vpc.main", "vpc_id") in edges
    assert ("aws_db_instance.db", "aws_vpc.main", "depends_on") in edges
    assert any("inside modules" in w for w in result.warnings)
    assert validate(result.canvas, catalog).valid


def test_state_instances_whose_names_clash_get_unique_ids_and_names(catalog):
    def managed(name: str, *instances: dict) -> dict:
        return {"mode": "managed", "type": "terraform_data", "name": name, "instances": list(instances)}

    state = {
        "version": 4,
        "resources": [
            managed("a", {"index_key": 0, "attributes": {"input": "first"}}, {"index_key": 1}),
            managed("a_0", {"attributes": {"input": "own"}, "dependencies": ["terraform_data.a"]}),
        ],
    }
    result = import_state(state, catalog)
    nodes = {n.name: n for n in result.canvas.nodes}
    assert set(nodes) == {"a_0", "a_1", "a_0_2"}
    assert len({n.id for n in result.canvas.nodes}) == 3
    assert nodes["a_0"].properties == {"input": "first"} and nodes["a_0_2"].properties == {"input": "own"}
    # "terraform_data.a" in dependencies means the resource, i.e. its first instance
    assert {(e.source, e.target) for e in result.canvas.edges} == {(nodes["a_0_2"].id, nodes["a_0"].id)}
    assert any("a_0_2" in w for w in result.warnings)
    assert validate(result.canvas, catalog).valid


def test_a_state_as_large_as_a_design_imports_in_linear_time(catalog):
    """Linking dependencies once scanned every address per resource: 10,000 resources took ~20 s."""
    n = 10_000
    state = {
        "version": 4,
        "resources": [
            {
                "mode": "managed",
                "type": "terraform_data",
                "name": f"r{i}",
                "instances": [{"attributes": {"input": i}, "dependencies": [f"terraform_data.r{i - 1}"]}],
            }
            for i in range(n)
        ],
    }
    started = time.perf_counter()
    result = import_state(state, catalog)
    assert time.perf_counter() - started < 10
    assert len(result.canvas.nodes) == n and len(result.canvas.edges) == n - 1


@pytest.mark.parametrize("bad", ["not json", json.dumps({"version": 3}), json.dumps([1])])
def test_bad_state_is_refused(catalog, bad):
    with pytest.raises(ValidationFailed) as info:
        import_state(bad, catalog)
    assert info.value.errors[0].field.startswith("state")


# ---------------------------------------------------------------------------------------------
# Round trip: import(export(canvas)) == canvas, up to node ids and positions
# ---------------------------------------------------------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
texts = st.one_of(
    st.sampled_from(['${file("/etc/passwd")}', "%{ if x }", "$${y}", 'q"\n\\', "漢字"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12),
)
literals = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), texts),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=6,
)


@st.composite
def canvases(draw) -> Canvas:
    nodes: list[Node] = []
    edges: list[Edge] = []
    used: set[str] = set()

    def fresh() -> str:
        name = draw(names.filter(lambda n: n not in used))
        used.add(name)
        return name

    var = fresh()
    nodes.append(
        Node(id="v", type="variable", name=var, properties={"type": "string", "default": draw(texts)})
    )
    vpcs = []
    for i in range(draw(st.integers(0, 2))):
        nid = f"vpc{i}"
        nodes.append(
            Node(
                id=nid,
                type="aws_vpc",
                name=fresh(),
                properties={
                    "cidr_block": "10.0.0.0/16",
                    "tags": draw(st.dictionaries(texts, texts, max_size=2)),
                },
            )
        )
        vpcs.append(nid)
        for j in range(draw(st.integers(0, 2))):
            sid = f"sub{i}{j}"
            nodes.append(
                Node(
                    id=sid,
                    type="aws_subnet",
                    name=fresh(),
                    properties={"cidr_block": f"10.0.{j}.0/24"},
                    parent=nid,
                )
            )
            edges.append(Edge(source=sid, target=nid, attribute=draw(st.sampled_from([None, "vpc_id"]))))
            if draw(st.booleans()):
                vid = f"vm{i}{j}"
                nodes.append(
                    Node(
                        id=vid,
                        type="aws_instance",
                        name=fresh(),
                        properties={"user_data": draw(texts)},
                        parent=sid,
                    )
                )
                edges.append(Edge(source=vid, target=sid))
    data_ids: list[str] = []
    for i in range(draw(st.integers(1, 5))):
        nid = f"d{i}"
        props: dict = {"input": draw(literals)}
        if data_ids and draw(st.booleans()):
            props["input"] = expr(f"upper(var.{var})")
            edges.append(Edge(source=nid, target="v", attribute="input"))
        for target in draw(st.lists(st.sampled_from(data_ids), unique=True, max_size=2)) if data_ids else []:
            edges.append(
                Edge(
                    source=nid,
                    target=target,
                    attribute=draw(st.sampled_from([None, "triggers_replace", "depends_on"])),
                )
            )
        nodes.append(Node(id=nid, type="terraform_data", name=fresh(), properties=props))
        data_ids.append(nid)
    if vpcs and draw(st.booleans()):
        nodes.append(
            Node(
                id="mod",
                type="module.label",
                name=fresh(),
                properties={"tags": draw(st.dictionaries(texts, texts, max_size=2))},
            )
        )
        edges.append(Edge(source="mod", target="v", attribute="name"))
        edges.append(Edge(source="mod", target=vpcs[0], attribute="depends_on"))
    target = draw(st.sampled_from(data_ids + vpcs))
    nodes.append(Node(id="out", type="output", name=fresh(), properties={"description": draw(texts)}))
    edges.append(Edge(source="out", target=target, attribute=draw(st.sampled_from([None, "id"]))))
    nodes.append(
        Node(
            id="out2",
            type="output",
            name=fresh(),
            properties={"value": draw(literals), "sensitive": draw(st.booleans())},
        )
    )
    return Canvas(nodes=nodes, edges=edges)


def comparable(canvas: Canvas, catalog) -> tuple:
    """The canvas without ids and positions: nodes and edges named by address, attributes explicit."""
    canvas = explicit_attributes(canvas, catalog)
    address = {n.id: (n.type, n.name) for n in canvas.nodes}
    nodes = sorted(
        (
            n.type,
            n.name,
            json.dumps(n.properties, sort_keys=True),
            address.get(n.parent) if n.parent else None,
        )
        for n in canvas.nodes
    )
    edges = sorted((address[e.source], address[e.target], e.attribute or "") for e in canvas.edges)
    return nodes, edges


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(canvases(), st.sampled_from(["json", "hcl"]))
def test_import_of_export_gives_back_the_design(catalog, canvas, fmt):
    assert validate(canvas, catalog).valid, validate(canvas, catalog).problems
    if fmt == "json":
        files = {"main.tf.json": generate_json(canvas, catalog).decode()}
    else:
        files = generate_hcl(canvas, catalog)
    imported = import_files(files, catalog).canvas
    assert comparable(imported, catalog) == comparable(canvas, catalog)
