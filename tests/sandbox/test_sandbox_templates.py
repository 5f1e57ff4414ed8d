"""The sandbox templates: well-formed canvases that only use what the provider accepts, and apply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from app.sandbox.rules import check_value, validate_config
from app.sandbox.specs import DATA_SOURCES, RESOURCE_TYPES, TypeSpec
from app.sandbox.store import SandboxStore
from app.terraform.canvas import Canvas
from tests.sandbox.terraform_helpers import Terraform

TEMPLATES = sorted((Path(__file__).parents[2] / "seeds" / "templates").glob("sandbox-*.json"))
# the property an edge may set when its target is a data source rather than a resource
DATA_REFERENCES = {("sandbox_instance", "image"): "data.sandbox_image"}


def _spec(node_type: str) -> TypeSpec:
    return (
        DATA_SOURCES[node_type.removeprefix("data.")]
        if node_type.startswith("data.")
        else RESOURCE_TYPES[node_type]
    )


def _load(path: Path) -> tuple[dict[str, Any], Canvas]:
    document = json.loads(path.read_text())
    return document, msgspec.convert(document["canvas"], Canvas)


def test_both_templates_exist() -> None:
    assert [p.name for p in TEMPLATES] == ["sandbox-static-site.json", "sandbox-three-tier.json"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_template_uses_only_what_the_provider_accepts(path: Path) -> None:
    document, canvas = _load(path)
    assert document["slug"] == path.stem and document["cloud_provider"] == "sandbox"
    assert set(document) == {"slug", "name", "description", "cloud_provider", "tags", "canvas"}
    nodes = {n.id: n for n in canvas.nodes}
    assert len(nodes) == len(canvas.nodes)
    assert all(n.parent is None or n.parent in nodes for n in canvas.nodes)
    set_by_edges: dict[str, set[str]] = {n.id: set() for n in canvas.nodes}
    for edge in canvas.edges:
        source, target = nodes[edge.source], nodes[edge.target]
        attr = _spec(source.type).attribute(edge.attribute or "")
        assert attr is not None, (edge.source, edge.attribute)
        expected = DATA_REFERENCES.get((source.type, attr.name), attr.reference)
        assert target.type == expected, (edge.source, edge.attribute, target.type)
        set_by_edges[source.id].add(attr.name)
    for node in canvas.nodes:
        spec = _spec(node.type)
        for name, value in node.properties.items():
            assert check_value(spec, name, value) is None, (node.id, name)
            attr = spec.attribute(name)
            assert attr is None or attr.configurable, (node.id, name)  # a block, or settable
        assert validate_config(spec.name, node.properties) == [], node.id
        required = {a.name for a in spec.attributes if a.required}
        assert required <= set(node.properties) | set_by_edges[node.id], (node.id, required)


def render(canvas: Canvas, header: dict[str, Any]) -> dict[str, Any]:
    """Terraform JSON for a canvas: literal properties, plus one reference per edge (lists collect)."""
    nodes = {n.id: n for n in canvas.nodes}
    blocks: dict[str, Any] = {"terraform": header, "resource": {}, "data": {}}
    bodies: dict[str, dict[str, Any]] = {}
    for node in canvas.nodes:
        kind, type_name = (
            ("data", node.type[5:]) if node.type.startswith("data.") else ("resource", node.type)
        )
        bodies[node.id] = blocks[kind].setdefault(type_name, {}).setdefault(node.name, dict(node.properties))
    for edge in canvas.edges:
        source, target = nodes[edge.source], nodes[edge.target]
        attr = _spec(source.type).attribute(edge.attribute or "")
        assert attr is not None
        value = "${" + f"{target.type}.{target.name}.id" + "}"
        if attr.kind in ("string_list", "string_set"):
            bodies[source.id].setdefault(attr.name, []).append(value)
        else:
            bodies[source.id][attr.name] = value
    return {k: v for k, v in blocks.items() if v}


@pytest.mark.slow
@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_template_applies_and_destroys(
    path: Path, terraform: Terraform, store: SandboxStore, required_providers: dict
) -> None:
    _, canvas = _load(path)
    terraform.write(render(canvas, required_providers))
    terraform.init()
    terraform.apply()
    managed = [n for n in canvas.nodes if not n.type.startswith("data.")]
    assert sorted(r.type for r in store.resources()) == sorted(n.type for n in managed)
    assert terraform.run("plan", "-detailed-exitcode", "-input=false", "-no-color").returncode == 0
    terraform.run("destroy", "-auto-approve", "-input=false", "-no-color")
    assert store.resources() == []
