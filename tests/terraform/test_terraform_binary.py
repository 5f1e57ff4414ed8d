"""The real terraform binary accepts what we generate (offline: terraform_data and the sandbox)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from app.terraform.bundle import build_bundle
from app.terraform.canvas import Canvas, Edge, Node
from app.terraform.codegen_hcl import generate_hcl
from app.terraform.codegen_json import generate_json
from app.terraform.hclsyntax import expr
from app.terraform.samples import offline_design

from .conftest import run_terraform, terraform_env, write_files

pytestmark = pytest.mark.slow

HOSTILE = [
    '${file("/etc/passwd")}',
    "%{ if true }x%{ endif }",
    "$${x}",
    'q"\\\n\t',
    "漢字 🚀",
    "a$$${b}%%%{c}",
]


def offline_canvas() -> Canvas:
    canvas = offline_design(12)
    canvas.nodes.append(
        Node(
            id="hostile", type="terraform_data", name="hostile", properties={"input": {s: s for s in HOSTILE}}
        )
    )
    canvas.nodes.append(Node(id="o-h", type="output", name="hostile"))
    canvas.edges.append(Edge(source="o-h", target="hostile", attribute="output"))
    canvas.nodes.append(
        Node(id="expr", type="terraform_data", name="shout", properties={"input": expr("upper(var.prefix)")})
    )
    canvas.edges.append(Edge(source="expr", target="var-prefix", attribute="input"))
    canvas.nodes.append(Node(id="lbl", type="module.label", name="naming", properties={"name": "web"}))
    canvas.edges.append(Edge(source="lbl", target="hostile", attribute="depends_on"))
    return canvas


def _init_validate(workdir: Path, env: dict[str, str]) -> None:
    init = run_terraform(workdir, "init", "-backend=false", "-input=false", "-no-color", env=env)
    assert init.returncode == 0, init.stdout + init.stderr
    validate = run_terraform(workdir, "validate", "-no-color", env=env)
    assert validate.returncode == 0, validate.stdout + validate.stderr


def _unzip(data: bytes, target: Path, skip: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            if name not in skip:
                write_files(target, {name: zf.read(name)})


@pytest.mark.parametrize("fmt", ["json", "hcl"])
def test_generated_configuration_inits_validates_and_applies_offline(catalog, terraform_bin, tmp_path, fmt):
    env = terraform_env(tmp_path)
    work = tmp_path / "work"
    bundle = build_bundle(
        offline_canvas(), catalog, base_url="http://127.0.0.1:9", org="o", state="s", fmt=fmt
    )
    _unzip(bundle, work, skip={"backend.tf"})
    _init_validate(work, env)
    apply = run_terraform(work, "apply", "-auto-approve", "-input=false", "-no-color", env=env)
    assert apply.returncode == 0, apply.stdout + apply.stderr
    outputs = json.loads(run_terraform(work, "output", "-json", env=env).stdout)
    assert outputs["hostile"]["value"] == {s: s for s in HOSTILE}  # literal text stayed literal


def test_json_and_hcl_of_the_same_design_plan_identically(catalog, terraform_bin, tmp_path):
    plans = []
    for fmt, files in (
        ("json", {"main.tf.json": generate_json(offline_canvas(), catalog)}),
        ("hcl", generate_hcl(offline_canvas(), catalog)),
    ):
        work = tmp_path / fmt
        write_files(
            work, {**files, **{f"modules/label/{k}": v for k, v in catalog.modules["label"].files.items()}}
        )
        env = terraform_env(tmp_path)
        _init_validate(work, env)
        plan = run_terraform(work, "plan", "-out=plan", "-input=false", "-no-color", env=env)
        assert plan.returncode == 0, plan.stderr
        shown = json.loads(run_terraform(work, "show", "-json", "plan", env=env).stdout)
        plans.append(
            sorted(
                (c["address"], json.dumps(c["change"]["after"], sort_keys=True))
                for c in shown["resource_changes"]
            )
        )
    assert plans[0] == plans[1]


def sandbox_canvas() -> Canvas:
    return Canvas(
        nodes=[
            Node(id="net", type="sandbox_network", name="main", properties={"cidr_block": "10.20.0.0/16"}),
            Node(
                id="sn",
                type="sandbox_subnet",
                name="app",
                properties={"cidr_block": "10.20.1.0/24"},
                parent="net",
            ),
            Node(
                id="sg",
                type="sandbox_security_group",
                name="web",
                parent="net",
                properties={
                    "name": "web",
                    "ingress": [
                        {"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]}
                    ],
                },
            ),
            Node(id="img", type="data.sandbox_image", name="ubuntu", properties={"name": "ubuntu-24.04"}),
            Node(
                id="vm",
                type="sandbox_instance",
                name="web",
                parent="sn",
                properties={"tags": {"Name": HOSTILE[0]}},
            ),
            Node(id="lb", type="sandbox_load_balancer", name="web"),
            Node(id="bucket", type="sandbox_bucket", name="assets", properties={"name": "assets-test"}),
            Node(id="db", type="sandbox_database", name="main", properties={"engine": "postgres"}),
            Node(id="out", type="output", name="lb_dns"),
        ],
        edges=[
            Edge(source="sn", target="net"),
            Edge(source="sg", target="net"),
            Edge(source="vm", target="sn"),
            Edge(source="vm", target="sg"),
            Edge(source="vm", target="img"),
            Edge(source="lb", target="sn"),
            Edge(source="lb", target="vm"),
            Edge(source="lb", target="bucket"),
            Edge(source="db", target="sn"),
            Edge(source="out", target="lb", attribute="dns_name"),
        ],
    )


@pytest.mark.parametrize("fmt", ["json", "hcl"])
def test_sandbox_design_inits_and_validates_with_the_sandbox_provider(catalog, terraform_bin, tmp_path, fmt):
    install = pytest.importorskip("app.sandbox.install")
    install.install_mirror(tmp_path / "data")
    env = terraform_env(tmp_path, install.terraform_env(tmp_path / "data"))
    assert catalog.rule_for("sandbox_load_balancer", "sandbox_bucket", None) is not None
    bundle = build_bundle(
        sandbox_canvas(), catalog, base_url="http://127.0.0.1:9", org="o", state="s", fmt=fmt
    )
    work = tmp_path / "work"
    _unzip(bundle, work, skip={"backend.tf"})
    _init_validate(work, env)
