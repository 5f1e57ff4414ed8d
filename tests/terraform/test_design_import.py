"""POST /api/v1/orgs/{org}/designs/import: from Terraform files or a state, as JSON or multipart."""

from __future__ import annotations

import json
import random
import uuid

import pytest

from app.designs.importer import MAX_HCL_COMPLEXITY
from tests.support.api import assert_problem
from tests.terraform.conftest import NETWORK_TF
from tests.terraform.design_support import design_with, offline_canvas, vpc_design

MAIN_TF = (
    NETWORK_TF
    + """
resource "terraform_data" "marker" {
  input      = var.env
  depends_on = [aws_subnet.a]
}

locals {
  ignored = 1
}
"""
)

OUTPUTS_TF = """
output "subnet_id" {
  value = aws_subnet.a.id
}
"""

STATE = {
    "version": 4,
    "terraform_version": "1.11.4",
    "serial": 7,
    "lineage": "8d5e2a1c-0000-4000-8000-000000000000",
    "outputs": {},
    "resources": [
        {
            "mode": "managed",
            "type": "aws_vpc",
            "name": "main",
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [{"attributes": {"id": "vpc-1", "arn": "arn:vpc", "cidr_block": "10.0.0.0/16"}}],
        },
        {
            "mode": "managed",
            "type": "aws_subnet",
            "name": "a",
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [
                {
                    "attributes": {"id": "subnet-1", "vpc_id": "vpc-1", "cidr_block": "10.0.1.0/24"},
                    "dependencies": ["aws_vpc.main"],
                }
            ],
        },
        {
            "mode": "managed",
            "type": "terraform_data",
            "name": "after",
            "provider": 'provider["terraform.io/builtin/terraform"]',
            "instances": [
                {
                    "attributes": {"id": "x", "input": {"value": "hi", "type": "string"}},
                    "dependencies": ["aws_subnet.a"],
                }
            ],
        },
        {"mode": "data", "type": "aws_ami", "name": "ubuntu", "instances": [{"attributes": {"id": "ami-1"}}]},
    ],
}


def import_url(org: str) -> str:
    return f"/api/v1/orgs/{org}/designs/import"


def name() -> str:
    return f"imp-{uuid.uuid4().hex[:8]}"


def by_address(canvas: dict) -> dict[str, dict]:
    return {f"{n['type']}.{n['name']}": n for n in canvas["nodes"]}


def edge_set(canvas: dict) -> set[tuple[str, str, str | None]]:
    return {(e["source"], e["target"], e.get("attribute")) for e in canvas["edges"]}


async def design_names(client, account) -> set[str]:
    r = await client.get(f"/api/v1/orgs/{account.org_slug}/designs?limit=200", headers=account.headers)
    assert r.status_code == 200, r.text
    return {d["name"] for d in r.json()["items"]}


async def test_import_from_hcl_files(client, api):
    owner = await api.register("imphcl")
    design_name = name()
    r = await client.post(
        import_url(owner.org_slug),
        json={
            "name": design_name,
            "files": {"main.tf": MAIN_TF, "outputs.tf": OUTPUTS_TF, "README.md": "# hi"},
        },
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"/api/v1/designs/{body['id']}"
    assert body["name"] == design_name and body["current_version"] == 1 and body["source"] == "files"
    assert body["cloud_provider"] == "aws"  # the provider most imported resources use
    assert any("README.md" in w for w in body["warnings"])
    assert any("locals" in w for w in body["warnings"])
    nodes = by_address(body["canvas"])
    assert set(nodes) == {
        "variable.env",
        "aws_vpc.main",
        "aws_subnet.a",
        "terraform_data.marker",
        "output.subnet_id",
    }
    vpc, subnet, marker = nodes["aws_vpc.main"], nodes["aws_subnet.a"], nodes["terraform_data.marker"]
    assert "vpc_id" not in subnet["properties"]  # the edge sets it
    assert subnet["parent"] == vpc["id"]
    assert subnet["properties"]["cidr_block"] == {"$expr": "cidrsubnet(aws_vpc.main.cidr_block, 8, 1)"}
    edges = edge_set(body["canvas"])
    var_id, out_id = nodes["variable.env"]["id"], nodes["output.subnet_id"]["id"]
    assert {
        (subnet["id"], vpc["id"], "vpc_id"),
        (subnet["id"], vpc["id"], "cidr_block"),
        (vpc["id"], var_id, "tags"),
        (marker["id"], var_id, "input"),
        (marker["id"], subnet["id"], "depends_on"),
    } <= edges
    assert any(s == out_id and t == subnet["id"] for s, t, _ in edges)
    assert all(n.get("position") for n in body["canvas"]["nodes"])

    # Stored like any design: readable, version 1 with a message, resources rows, audit rows.
    stored = (await client.get(f"/api/v1/designs/{body['id']}", headers=owner.headers)).json()
    assert stored["canvas"] == body["canvas"]
    version = (await client.get(f"/api/v1/designs/{body['id']}/versions/1", headers=owner.headers)).json()
    assert version["message"] == "Imported from main.tf, outputs.tf"
    resources = (
        await client.get(
            f"/api/v1/orgs/{owner.org_slug}/resources?design_id={body['id']}", headers=owner.headers
        )
    ).json()["items"]
    assert {r["type"] for r in resources} == {"variable", "aws_vpc", "aws_subnet", "terraform_data", "output"}
    audit = (
        await client.get(
            f"/api/v1/orgs/{owner.org_slug}/audit-logs?object_id={body['id']}", headers=owner.headers
        )
    ).json()["items"]
    actions = {a["action"]: a for a in audit}
    assert {"design.create", "design.import"} <= set(actions)
    assert actions["design.import"]["details"]["source"] == "files"
    assert actions["design.import"]["details"]["nodes"] == 5
    # The imported design validates and exports.
    validation = (await client.post(f"/api/v1/designs/{body['id']}/validate", headers=owner.headers)).json()
    assert validation["valid"], validation


async def test_import_from_a_state(client, api):
    owner = await api.register("impstate")
    r = await client.post(
        import_url(owner.org_slug),
        json={"name": name(), "state": STATE, "cloud_provider": "custom", "status": "active"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["source"] == "state" and body["cloud_provider"] == "custom" and body["status"] == "active"
    nodes = by_address(body["canvas"])
    assert set(nodes) == {"aws_vpc.main", "aws_subnet.a", "terraform_data.after"}  # managed only
    vpc, subnet, after = nodes["aws_vpc.main"], nodes["aws_subnet.a"], nodes["terraform_data.after"]
    assert vpc["properties"] == {"cidr_block": "10.0.0.0/16"}  # computed id/arn left out
    assert "vpc_id" not in subnet["properties"]
    assert {(subnet["id"], vpc["id"], "vpc_id"), (after["id"], subnet["id"], "depends_on")} <= edge_set(
        body["canvas"]
    )
    version = (await client.get(f"/api/v1/designs/{body['id']}/versions/1", headers=owner.headers)).json()
    assert version["message"] == "Imported from a Terraform state"


async def test_multipart_uploads(client, api):
    owner = await api.register("impmulti")
    r = await client.post(
        import_url(owner.org_slug),
        data={"name": "from-upload", "description": "uploaded", "message": "first"},
        files=[
            ("files", ("main.tf", MAIN_TF.encode(), "text/plain")),
            ("files", ("outputs.tf", b"\xef\xbb\xbf" + OUTPUTS_TF.encode(), "application/octet-stream")),
        ],
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["name"], body["description"], body["source"]) == ("from-upload", "uploaded", "files")
    assert "output.subnet_id" in by_address(body["canvas"])
    version = (await client.get(f"/api/v1/designs/{body['id']}/versions/1", headers=owner.headers)).json()
    assert version["message"] == "first"

    r = await client.post(
        import_url(owner.org_slug),
        data={"name": "from-state"},
        files={"state": ("terraform.tfstate", json.dumps(STATE).encode(), "application/json")},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "state" and len(r.json()["canvas"]["nodes"]) == 3

    # Broken uploads: not UTF-8, not JSON, twice the same file, unknown fields, no name.
    cases = [
        ({"name": "x"}, [("files", ("bad.tf", b"\xff\xfe\x00", "text/plain"))], "files.bad.tf"),
        ({"name": "x"}, {"state": ("s.tfstate", b"{nope", "application/json")}, "state"),
        ({"name": "x"}, {"state": ("s.tfstate", b"[1, 2]", "application/json")}, "state"),
        (
            {"name": "x"},
            [("files", ("a.tf", b"", "text/plain")), ("files", ("a.tf", b"", "text/plain"))],
            "files.a.tf",
        ),
        ({"name": "x", "colour": "red"}, [("files", ("a.tf", b"", "text/plain"))], "colour"),
        ({}, [("files", ("a.tf", b"", "text/plain"))], "name"),
        ({"name": "x", "files": "main.tf"}, [("files", ("a.tf", b"", "text/plain"))], "files"),
        (
            {"name": "x"},
            [("state", ("a.tfstate", b"{}", "text/plain")), ("state", ("b.tfstate", b"{}", "text/plain"))],
            "state",
        ),
    ]
    before = await design_names(client, owner)
    for fields, files, field in cases:
        r = await client.post(import_url(owner.org_slug), data=fields, files=files, headers=owner.headers)
        assert_problem(r, 422, field)
    assert await design_names(client, owner) == before


@pytest.mark.parametrize("fmt", ["hcl", "json"])
async def test_round_trip_export_import_export(client, api, fmt):
    owner = await api.register("imprt")
    for canvas in (offline_canvas(9), vpc_design()):
        design_id = await design_with(client, owner, canvas)
        r = await client.get(f"/api/v1/designs/{design_id}/terraform?format={fmt}", headers=owner.headers)
        assert r.status_code == 200, r.text
        files = r.json()["files"] if fmt == "hcl" else {"main.tf.json": r.text}
        imported = await client.post(
            import_url(owner.org_slug), json={"name": name(), "files": files}, headers=owner.headers
        )
        assert imported.status_code == 201, imported.text
        again = await client.get(
            f"/api/v1/designs/{imported.json()['id']}/terraform?format={fmt}", headers=owner.headers
        )
        assert again.status_code == 200, again.text
        assert again.json() == r.json()  # the same Terraform, whatever the ids and positions


async def test_unparseable_files_name_file_and_line_and_store_nothing(client, api):
    owner = await api.register("impbad")
    design_name = name()
    broken = (
        'resource "terraform_data" "a" {\n  input = "x"\n}\n\n'
        'resource "terraform_data" "b" {\n  input = = 1\n}\n'
    )
    r = await client.post(
        import_url(owner.org_slug),
        json={"name": design_name, "files": {"ok.tf": OUTPUTS_TF, "broken.tf": broken}},
        headers=owner.headers,
    )
    body = assert_problem(r, 422, "files.broken.tf")
    [error] = body["errors"]
    assert error["message"].startswith("line 6:"), error
    assert "broken.tf" in body["detail"]
    r = await client.post(
        import_url(owner.org_slug),
        json={"name": design_name, "files": {"main.tf.json": '{\n  "resource": {\n    "x": \n}'}},
        headers=owner.headers,
    )
    body = assert_problem(r, 422, "files.main.tf.json")
    assert body["errors"][0]["message"].startswith("line 4:")
    assert design_name not in await design_names(client, owner)
    # The name is still free: nothing half-created.
    r = await client.post(
        import_url(owner.org_slug),
        json={"name": design_name, "files": {"ok.tf": MAIN_TF}},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    # A second import under the same name is a conflict, and stores nothing either.
    r = await client.post(
        import_url(owner.org_slug),
        json={"name": design_name, "files": {"ok.tf": MAIN_TF}},
        headers=owner.headers,
    )
    assert_problem(r, 409, "name")
    audit = (
        await client.get(
            f"/api/v1/orgs/{owner.org_slug}/audit-logs?action=design.import", headers=owner.headers
        )
    ).json()["items"]
    assert len(audit) == 1


async def test_bad_requests_are_4xx(client, api):
    owner = await api.register("impreq")
    url = import_url(owner.org_slug)
    h = owner.headers
    before = await design_names(client, owner)
    assert_problem(await client.post(url, json={"name": "x"}, headers=h), 422, "files")
    assert_problem(
        await client.post(url, json={"name": "x", "files": {"a.tf": ""}, "state": STATE}, headers=h), 422
    )
    assert_problem(
        await client.post(url, json={"name": "x", "files": {"notes.txt": "hi"}}, headers=h), 422, "files"
    )
    assert_problem(await client.post(url, json={"name": "x", "files": {"a.tf": 1}}, headers=h), 422)
    assert_problem(await client.post(url, json={"name": "", "files": {"a.tf": ""}}, headers=h), 422, "name")
    assert_problem(await client.post(url, json={"name": "x", "files": {}, "x": 1}, headers=h), 422, "x")
    assert_problem(
        await client.post(url, json={"name": "x", "state": {"version": 3}}, headers=h), 422, "state.version"
    )
    assert_problem(await client.post(url, json={"name": "x", "state": [1]}, headers=h), 422, "state")
    assert_problem(await client.post(url, json=[1], headers=h), 422)
    assert_problem(
        await client.post(url, json={"name": "x", "cloud_provider": "AWS!", "files": {}}, headers=h), 422
    )
    json_headers = {**h, "Content-Type": "application/json"}
    assert_problem(await client.post(url, content=b"{nope", headers=json_headers), 400)
    assert_problem(await client.post(url, content=b"", headers=json_headers), 400)
    deep = b'{"name": "x", "state": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    r = await client.post(url, content=deep, headers=json_headers)
    assert r.status_code in (400, 422), r.text
    r = await client.post(url, content=b"name=x", headers={**h, "Content-Type": "text/plain"})
    assert_problem(r, 415)
    r = await client.post(
        url, content=b"--x\r\nnope", headers={**h, "Content-Type": "multipart/form-data; boundary=x"}
    )
    assert r.status_code in (400, 422), r.text
    bad_text = b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\n\xff\xfe\r\n--b--\r\n'
    r = await client.post(
        url, content=bad_text, headers={**h, "Content-Type": "multipart/form-data; boundary=b"}
    )
    assert_problem(r, 400)
    assert await design_names(client, owner) == before


async def test_names_terraform_allows_but_a_canvas_does_not(client, api):
    owner = await api.register("implong")
    long_name = "r" * 200
    r = await client.post(
        import_url(owner.org_slug),
        json={"name": name(), "files": {"main.tf": f'resource "terraform_data" "{long_name}" {{\n}}\n'}},
        headers=owner.headers,
    )
    body = assert_problem(r, 422)
    assert body["errors"][0]["field"] == "canvas.nodes[0].name"
    assert "terraform_data" in body["errors"][0]["message"]


async def test_oversize_inputs_are_413_or_422(client, api):
    owner = await api.register("impbig")
    url = import_url(owner.org_slug)
    before = await design_names(client, owner)
    # Beyond the 5 MB body limit, as JSON and as multipart.
    huge = "#" * (5 * 1024 * 1024 + 10)
    assert_problem(
        await client.post(url, json={"name": "x", "files": {"a.tf": huge}}, headers=owner.headers), 413
    )
    r = await client.post(
        url, data={"name": "x"}, files={"files": ("a.tf", huge.encode(), "text/plain")}, headers=owner.headers
    )
    assert_problem(r, 413)
    # 20,001 resources: too many nodes for a design (quickly parsed as JSON, refused before storing).
    doc = {"resource": {"terraform_data": {f"r{i}": {} for i in range(20_001)}}}
    r = await client.post(
        url, json={"name": "x", "files": {"main.tf.json": json.dumps(doc)}}, headers=owner.headers
    )
    assert_problem(r, 413, "canvas.nodes")
    # The same as HCL is refused before parsing (python-hcl2 would need minutes).
    hcl = "".join(f'resource "terraform_data" "r{i}" {{\n}}\n' for i in range(20_001))
    r = await client.post(url, json={"name": "x", "files": {"main.tf": hcl}}, headers=owner.headers)
    assert assert_problem(r, 413, "files")["setting"] == "BOARD3_MAX_NODES"
    dense = "locals {\n  x = [" + "1," * (MAX_HCL_COMPLEXITY + 1) + "]\n}\n"
    r = await client.post(url, json={"name": "x", "files": {"main.tf": dense}}, headers=owner.headers)
    assert_problem(r, 413, "files")
    # A state with more instances than a design may have nodes.
    many = {
        **STATE,
        "resources": [
            {
                "mode": "managed",
                "type": "terraform_data",
                "name": "r",
                "instances": [{"index_key": i} for i in range(20_001)],
            }
        ],
    }
    r = await client.post(url, json={"name": "x", "state": many}, headers=owner.headers)
    assert_problem(r, 413, "state.resources")
    # A single file over 2 MB.
    r = await client.post(
        url, json={"name": "x", "files": {"a.tf": "#" * (2 * 1024 * 1024 + 1)}}, headers=owner.headers
    )
    assert_problem(r, 422, "files.a.tf")
    assert await design_names(client, owner) == before


async def test_permissions(client, api):
    owner = await api.register("impperm")
    viewer = await api.register("impviewer")
    stranger = await api.register("impstranger")
    await api.add_member(owner, viewer, "viewer")
    body = {"name": name(), "files": {"main.tf": OUTPUTS_TF}}
    assert_problem(await client.post(import_url(owner.org_slug), json=body, headers=viewer.headers), 403)
    assert_problem(await client.post(import_url(owner.org_slug), json=body, headers=stranger.headers), 404)
    assert_problem(await client.post(import_url("no-such-org-here"), json=body, headers=owner.headers), 404)
    read_key = await api.api_key(owner, scopes=["design:read"])
    r = await client.post(
        import_url(owner.org_slug), json=body, headers={"Authorization": f"Bearer {read_key}"}
    )
    assert_problem(r, 403)
    write_key = await api.api_key(owner, scopes=["design:read", "design:write"])
    r = await client.post(
        import_url(owner.org_slug), json=body, headers={"Authorization": f"Bearer {write_key}"}
    )
    assert r.status_code == 201, r.text
    assert (await client.post(import_url(owner.org_slug), json=body)).status_code == 401


async def test_mangled_files_and_states_never_fail_the_server(client, api):
    """Random edits of valid inputs: every answer is 201 or a 4xx problem, never a 5xx."""
    owner = await api.register("impfuzz")
    rng = random.Random(20261122)
    alphabet = '{}[]()="$%\\\n #,.:?<>!*-+/${}%{}abc01'
    sources = [
        ("main.tf", MAIN_TF + OUTPUTS_TF),
        (
            "main.tf.json",
            json.dumps({"resource": {"aws_vpc": {"m": {"cidr_block": "${var.x}"}}}, "variable": {"x": {}}}),
        ),
    ]
    statuses = []
    for i in range(120):
        fname, text = sources[i % 2]
        chars = list(text)
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(chars))
            if rng.random() < 0.5:
                del chars[pos]
            else:
                chars.insert(pos, rng.choice(alphabet))
        r = await client.post(
            import_url(owner.org_slug),
            json={"name": f"fuzz-{i}", "files": {fname: "".join(chars)}},
            headers=owner.headers,
        )
        assert r.status_code == 201 or 400 <= r.status_code < 500, (r.status_code, r.text, "".join(chars))
        statuses.append(r.status_code)
    for i in range(40):
        doc = json.loads(json.dumps(STATE))
        res = doc["resources"][rng.randrange(len(doc["resources"]))]
        key = rng.choice(["mode", "type", "name", "instances", "module"])
        res[key] = rng.choice([None, 1, "", [], {}, ["x"], {"a": 1}, "aws_vpc", "managed", "x" * 300])
        r = await client.post(
            import_url(owner.org_slug), json={"name": f"sfuzz-{i}", "state": doc}, headers=owner.headers
        )
        assert r.status_code == 201 or 400 <= r.status_code < 500, (r.status_code, r.text, doc)
        statuses.append(r.status_code)
    assert 201 in statuses and 422 in statuses  # both outcomes were exercised
