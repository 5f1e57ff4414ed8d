"""Hostile designs give clear problems, never an exception, never an injected expression."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from app.terraform.canvas import Canvas, Edge, Node
from app.terraform.codegen_json import generate_json
from app.terraform.diagram import render_svg
from app.terraform.hcl_reader import import_files
from app.terraform.validate import validate


def test_twenty_thousand_nodes_validate_and_generate(catalog):
    nodes = [
        Node(id=f"n{i}", type="terraform_data", name=f"n{i}", properties={"input": i}) for i in range(20_000)
    ]
    edges = [Edge(source=f"n{i}", target=f"n{i - 1}") for i in range(1, 20_000)]
    canvas = Canvas(nodes=nodes, edges=edges)
    assert validate(canvas, catalog).valid
    assert len(json.loads(generate_json(canvas, catalog))["resource"]["terraform_data"]) == 20_000


def test_too_many_nodes_and_problems_are_bounded(catalog):
    too_many = Canvas(nodes=[Node(id=f"n{i}", type="nope", name="1") for i in range(20_001)])
    [p] = validate(too_many, catalog).problems
    assert p.code == "too-large"
    many = Canvas(nodes=[Node(id=f"n{i}", type="nope", name="1") for i in range(5_000)])
    problems = validate(many, catalog).problems
    assert len(problems) == 1001 and problems[-1].code == "too-many-problems"


def test_deep_nesting_is_a_problem_not_a_crash(catalog):
    value: object = "x"
    for _ in range(5_000):
        value = {"k": [value]}
    canvas = Canvas(nodes=[Node(id="d", type="terraform_data", name="d", properties={"input": value})])
    [p] = validate(canvas, catalog).problems
    assert p.code == "value-too-deep"
    deep_parents = Canvas(
        nodes=[
            Node(id=f"n{i}", type="terraform_data", name=f"n{i}", parent=f"n{i + 1}" if i < 3000 else None)
            for i in range(3001)
        ]
    )
    assert "<svg" in render_svg(deep_parents, catalog)


def test_megabyte_strings_and_hostile_names(catalog):
    big = '${file("/etc/passwd")}' * 50_000
    canvas = Canvas(
        nodes=[
            Node(id="d", type="terraform_data", name="d", properties={"input": big}),
            Node(id="q", type="terraform_data", name='x" {\n}', properties={'a"b': 1, "c\nd": 2}),
        ],
        edges=[Edge(source="q", target="d", attribute="'; rm -rf /")],
    )
    codes = sorted(p.code for p in validate(canvas, catalog).problems)
    assert codes == ["edge-not-allowed", "invalid-name", "invalid-property-name", "invalid-property-name"]
    ok = Canvas(nodes=[canvas.nodes[0]])
    out = json.loads(generate_json(ok, catalog))["resource"]["terraform_data"]["d"]["input"]
    assert out == big.replace("${", "$${")


def test_nul_in_ids_and_names_is_a_problem_naming_the_field(catalog):
    canvas = Canvas(
        nodes=[
            Node(id="a\x00", type="terraform_data", name="a"),
            Node(id="b", type="terraform_data", name="b\x00"),
        ],
        edges=[Edge(source="b", target="a\x00", attribute="x\x00")],
    )
    problems = [
        (p.code, p.node, p.edge) for p in validate(canvas, catalog).problems if p.code == "invalid-text"
    ]
    assert problems == [
        ("invalid-text", "a\x00", None),
        ("invalid-text", "b", None),
        ("invalid-text", None, 0),
    ]


def test_hostile_import_files_fail_cleanly(catalog):
    for content in ["{" * 10_000, 'resource "a" {', "\x00\x01", "x = " + "[" * 3000]:
        try:
            import_files({"main.tf": content}, catalog)
        except Exception as exc:  # only the documented error may escape
            assert type(exc).__name__ == "ValidationFailed", repr(exc)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.builds(
            Node,
            id=st.text(min_size=1, max_size=5),
            type=st.sampled_from(
                ["aws_vpc", "aws_subnet", "terraform_data", "variable", "output", "module.label", "zzz"]
            ),
            name=st.text(min_size=1, max_size=8),
            properties=st.dictionaries(
                st.text(max_size=5),
                st.one_of(
                    st.text(max_size=5),
                    st.integers(),
                    st.none(),
                    st.dictionaries(st.sampled_from(["$expr", "x"]), st.text(max_size=8), max_size=1),
                ),
                max_size=3,
            ),
            parent=st.one_of(st.none(), st.text(min_size=1, max_size=5)),
        ),
        max_size=8,
    ),
    st.lists(
        st.builds(
            Edge,
            source=st.text(min_size=1, max_size=5),
            target=st.text(min_size=1, max_size=5),
            attribute=st.one_of(st.none(), st.text(min_size=1, max_size=8)),
        ),
        max_size=8,
    ),
)
def test_validation_never_raises_on_arbitrary_canvases(catalog, nodes, edges):
    canvas = Canvas(nodes=nodes, edges=edges)
    result = validate(canvas, catalog)
    assert result.valid == (not result.problems)
    render_svg(canvas, catalog)
    if result.valid:
        generate_json(canvas, catalog)
