"""GET /api/v1/designs/{id}/terraform: JSON, HCL and zip exports of stored versions."""

from __future__ import annotations

import io
import json
import zipfile

import hcl2
import msgspec
import pytest

from app.terraform.canvas import Canvas
from app.terraform.codegen_hcl import generate_hcl
from app.terraform.codegen_json import generate_json
from tests.designs.helpers import save
from tests.support.api import assert_problem
from tests.terraform.design_support import (
    HOSTILE,
    data_node,
    design_with,
    invalid_canvas,
    offline_canvas,
    share,
    vpc_design,
)


def url(design_id: str, fmt: str | None = None, version: int | None = None) -> str:
    params = [p for p in (f"format={fmt}" if fmt else "", f"version={version}" if version else "") if p]
    return f"/api/v1/designs/{design_id}/terraform" + ("?" + "&".join(params) if params else "")


def unzip(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name).decode() for name in zf.namelist()}


async def test_json_export_is_the_generated_main_tf_json_and_deterministic(client, api, catalog):
    owner = await api.register("exjson")
    canvas = offline_canvas()
    design_id = await design_with(client, owner, canvas)
    r = await client.get(url(design_id), headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == 'inline; filename="main.tf.json"'
    assert r.headers["x-design-version"] == "1"
    assert r.content == generate_json(msgspec.convert(canvas, type=Canvas), catalog)
    again = await client.get(url(design_id, "json"), headers=owner.headers)
    assert again.content == r.content and again.headers["etag"] == r.headers["etag"]
    r304 = await client.get(url(design_id), headers={**owner.headers, "If-None-Match": r.headers["etag"]})
    assert r304.status_code == 304 and r304.content == b"" and r304.headers["etag"] == r.headers["etag"]

    # Another version, then a restore of version 1: the same canvas gives the same bytes.
    changed = offline_canvas(12)
    assert (await save(client, owner, design_id, changed, base=1)).status_code == 201
    v2 = await client.get(url(design_id), headers=owner.headers)
    assert v2.headers["x-design-version"] == "2" and v2.content != r.content
    assert v2.headers["etag"] != r.headers["etag"]
    r = await client.post(f"/api/v1/designs/{design_id}/versions/1/restore", headers=owner.headers)
    assert r.status_code == 201, r.text
    v3 = await client.get(url(design_id), headers=owner.headers)
    assert v3.headers["x-design-version"] == "3" and v3.content == again.content
    old = await client.get(url(design_id, "json", version=2), headers=owner.headers)
    assert old.content == v2.content and old.headers["x-design-version"] == "2"


async def test_user_text_never_becomes_an_expression(client, api):
    owner = await api.register("exhostile")
    design_id = await design_with(client, owner, offline_canvas())
    doc = (await client.get(url(design_id), headers=owner.headers)).json()
    hostile = doc["resource"]["terraform_data"]["hostile"]["input"]
    assert hostile["text"] == "$" + HOSTILE  # "$${file(...)}": a literal in Terraform's JSON syntax
    assert hostile["$" + HOSTILE] == "key"
    assert hostile["tmpl"] == "%%{ if true }x%%{ endif }"
    files = (await client.get(url(design_id, "hcl"), headers=owner.headers)).json()["files"]
    main = files["main.tf"]
    assert '"$${file(\\"/etc/passwd\\")}"' in main
    assert '"${file(' not in main and '"${file(' not in json.dumps(doc)


async def test_hcl_export_is_a_json_object_of_files(client, api, catalog):
    owner = await api.register("exhcl")
    canvas = vpc_design()
    design_id = await design_with(client, owner, canvas)
    r = await client.get(url(design_id, "hcl"), headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body == {"version": 1, "files": generate_hcl(msgspec.convert(canvas, type=Canvas), catalog)}
    assert set(body["files"]) == {"main.tf", "outputs.tf", "variables.tf", "versions.tf"}
    main = hcl2.loads(body["files"]["main.tf"])
    [subnet] = [r['"aws_subnet"']['"app"'] for r in main["resource"] if '"aws_subnet"' in r]
    assert subnet["vpc_id"] == "${aws_vpc.main.id}"
    assert 'source  = "hashicorp/aws"' in body["files"]["versions.tf"]
    again = await client.get(url(design_id, "hcl"), headers=owner.headers)
    assert again.content == r.content and again.headers["etag"] == r.headers["etag"]


async def test_zip_bundle_has_files_modules_and_backend(client, api):
    owner = await api.register("exzip")
    design_id = await design_with(
        client, owner, offline_canvas(), name='../../etc/passwd "x"\r\nSet-Cookie: a'
    )
    r = await client.get(url(design_id, "zip"), headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="etc-passwd-x-Set-Cookie-a-v1.zip"'
    files = unzip(r.content)
    assert {"main.tf", "outputs.tf", "variables.tf", "backend.tf", "modules/label/main.tf"} <= set(files)
    state = f"design-{design_id}"
    address = f"http://testserver.local/tf/{owner.org_slug}/{state}"
    assert f"`{address}`" in files["README.md"] and "TF_HTTP_PASSWORD" in files["README.md"]
    assert "sandbox" not in files["README.md"]  # this design uses no sandbox resource
    backend = hcl2.loads(files["backend.tf"])["terraform"][0]["backend"][0]['"http"']
    assert backend["address"] == f'"{address}"'
    assert backend["lock_address"] == backend["unlock_address"] == f'"{address}/lock"'
    assert "password" not in backend
    again = await client.get(url(design_id, "zip"), headers=owner.headers)
    assert again.content == r.content and again.headers["etag"] == r.headers["etag"]
    # The address follows the host the request came in on.
    other_host = await client.get(
        url(design_id, "zip"), headers={**owner.headers, "Host": "board3.example:8443"}
    )
    backend_tf = unzip(other_host.content)["backend.tf"]
    assert f'"http://board3.example:8443/tf/{owner.org_slug}/{state}"' in backend_tf
    # A design without modules has no modules/ directory.
    plain = await design_with(client, owner, {"nodes": [data_node("a")], "edges": []})
    assert not any(
        n.startswith("modules/")
        for n in unzip((await client.get(url(plain, "zip"), headers=owner.headers)).content)
    )


@pytest.mark.parametrize("fmt", ["json", "hcl", "zip"])
async def test_invalid_designs_are_422_with_every_problem(client, api, fmt):
    owner = await api.register("exinvalid")
    design_id = await design_with(client, owner, invalid_canvas())
    r = await client.get(url(design_id, fmt), headers=owner.headers)
    body = assert_problem(r, 422)
    assert body["type"].endswith("/design-invalid")
    assert {p["code"] for p in body["problems"]} == {
        "unknown-type",
        "invalid-name",
        "missing-required-property",
        "cycle",
    }
    # Stored canvases are in id order: a (cycle), bad-name, bogus, sub.
    assert {e["field"] for e in body["errors"]} == {f"canvas.nodes[{i}]" for i in (0, 2, 3, 5)}
    validation = (await client.post(f"/api/v1/designs/{design_id}/validate", headers=owner.headers)).json()
    assert validation["problems"] == body["problems"]


async def test_bad_parameters_and_access(client, api):
    owner = await api.register("exaccess")
    other = await api.register("exaccess2")
    guest = await api.register("exguest")
    design_id = await design_with(client, owner, offline_canvas())
    assert_problem(await client.get(url(design_id, "yaml"), headers=owner.headers), 400)
    assert_problem(await client.get(url(design_id, version=9), headers=owner.headers), 404)
    assert_problem(await client.get(url(design_id) + "?version=-1", headers=owner.headers), 400)
    for fmt in ("json", "hcl", "zip"):
        assert_problem(await client.get(url(design_id, fmt), headers=other.headers), 404)
        assert_problem(await client.get(url(design_id, fmt), headers=guest.headers), 404)
    await share(client, owner, design_id, guest, "view")
    for fmt in ("json", "hcl", "zip"):
        r = await client.get(url(design_id, fmt), headers=guest.headers)
        assert r.status_code == 200, (fmt, r.text)
    # A design without versions exports an empty configuration.
    empty = await design_with(client, owner, None)
    r = await client.get(url(empty), headers=owner.headers)
    assert r.status_code == 200 and r.json() == {} and r.headers["x-design-version"] == "0"
