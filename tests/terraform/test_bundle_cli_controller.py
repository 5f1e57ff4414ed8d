from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import msgspec
from click.testing import CliRunner
from litestar.testing import create_test_client

from app.config import reset_settings
from app.terraform.bundle import backend_tf, build_bundle
from app.terraform.canvas import Canvas
from app.terraform.catalog import load_catalog, reset_catalog_cache
from app.terraform.cli import catalog as catalog_cli
from app.terraform.controller import CatalogController
from app.terraform.samples import offline_design

from .test_codegen import web_canvas

ROOT = Path(__file__).resolve().parents[2]


def test_bundle_holds_code_modules_and_backend_and_is_deterministic(catalog):
    data = build_bundle(web_canvas(), catalog, base_url="https://b3.example/", org="acme co", state="prod")
    assert data == build_bundle(
        web_canvas(), catalog, base_url="https://b3.example/", org="acme co", state="prod"
    )
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names == sorted(names)
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "backend.tf", "README.md"} <= set(names)
    assert {"modules/label/main.tf", "modules/label/variables.tf", "modules/label/outputs.tf"} <= set(names)
    assert not any(n.startswith("modules/aws_network") for n in names)
    backend = zipfile.ZipFile(io.BytesIO(data)).read("backend.tf").decode()
    assert 'address        = "https://b3.example/tf/acme%20co/prod"' in backend
    assert 'lock_address   = "https://b3.example/tf/acme%20co/prod/lock"' in backend
    assert 'unlock_method  = "UNLOCK"' in backend and "password =" not in backend
    assert "TF_HTTP_PASSWORD" in backend
    json_zip = zipfile.ZipFile(
        io.BytesIO(build_bundle(offline_design(5), catalog, base_url="x", org="o", state="s", fmt="json"))
    )
    assert "main.tf.json" in json_zip.namelist() and "main.tf" not in json_zip.namelist()


def _readme(canvas, catalog) -> str:
    data = build_bundle(canvas, catalog, base_url="http://b3.example:8000/", org="acme", state="design-1")
    return zipfile.ZipFile(io.BytesIO(data)).read("README.md").decode()


def test_bundle_readme_says_how_to_authenticate_and_mentions_sandbox_only_when_used(catalog):
    template = json.loads((ROOT / "seeds/templates/sandbox-static-site.json").read_text())
    with_sandbox = _readme(msgspec.convert(template["canvas"], Canvas), catalog)
    assert "`http://b3.example:8000/tf/acme/design-1`" in with_sandbox
    assert "http://b3.example:8000/api/v1/orgs/acme/api-keys" in with_sandbox
    assert "TF_HTTP_PASSWORD" in with_sandbox and "-backend-config=password=" in with_sandbox
    assert "board3.local/board3/sandbox" in with_sandbox
    assert 'eval "$("$B3/scripts/board3" sandbox env)"' in with_sandbox
    assert "sandbox install" in with_sandbox and "terraform init" in with_sandbox

    without = _readme(offline_design(3), catalog)  # terraform_data only: no provider to fetch
    assert "sandbox" not in without.lower() and "registry" not in without
    assert "TF_HTTP_PASSWORD" in without and "terraform init" in without
    aws = _readme(web_canvas(), catalog)
    assert "sandbox" not in aws.lower() and "`hashicorp/aws` from the Terraform registry" in aws


def test_backend_values_are_escaped():
    # Each of org and state is one percent-encoded path segment: no quote, interpolation or "/".
    text = backend_tf("http://h/", 'o"${x}', "s/../t")
    address = "http://h/tf/o%22%24%7Bx%7D/s%2F..%2Ft"
    assert f'    address        = "{address}"\n' in text
    assert f'    lock_address   = "{address}/lock"\n' in text
    assert f'    unlock_address = "{address}/lock"\n' in text


SCHEMA = {
    "format_version": "1.0",
    "provider_schemas": {
        "registry.terraform.io/acme/widgets": {
            "provider": {
                "version": 0,
                "block": {"attributes": {"token": {"type": "string", "optional": True}}},
            },
            "resource_schemas": {
                "widgets_box": {
                    "version": 0,
                    "block": {
                        "attributes": {
                            "id": {"type": "string", "computed": True},
                            "name": {"type": "string", "required": True},
                            "size": {"type": "number", "optional": True, "computed": True},
                            "labels": {"type": ["map", "string"], "optional": True},
                        },
                        "block_types": {
                            "rule": {
                                "nesting_mode": "list",
                                "block": {"attributes": {"port": {"type": "number", "required": True}}},
                            }
                        },
                        "description": "A box.",
                    },
                },
                "widgets_lid": {
                    "version": 0,
                    "block": {
                        "attributes": {
                            "id": {"type": "string", "computed": True},
                            "box_id": {"type": "string", "required": True},
                        }
                    },
                },
            },
            "data_source_schemas": {
                "widgets_catalog": {
                    "version": 0,
                    "block": {
                        "attributes": {
                            "items": {"type": ["list", ["object", {"a": "string"}]], "computed": True}
                        }
                    },
                }
            },
        }
    },
}


def test_catalog_import_extends_the_catalog_from_a_provider_schema(tmp_path, monkeypatch):
    monkeypatch.setenv("BOARD3_DATA_DIR", str(tmp_path))
    reset_settings()
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    try:
        result = CliRunner().invoke(catalog_cli, ["import", str(schema), "--version", "widgets=~> 1.2"])
        assert result.exit_code == 0, result.output
        assert "widgets: 2 resource types, 1 data sources" in result.output
        cat = load_catalog(tmp_path)
        box = cat.get("widgets_box")
        assert box is not None and box.spec.complete
        assert box.spec.properties["name"].required and box.spec.properties["rule"].block == "list"
        assert box.spec.attributes == {"id": "string", "size": "number"}
        assert (
            cat.providers["widgets"].source == "acme/widgets" and cat.providers["widgets"].version == "~> 1.2"
        )
        lid = cat.rule_for("widgets_lid", "widgets_box", None)
        assert lid is not None and lid.property == "box_id"
        assert cat.get("data.widgets_catalog").spec.attributes["items"] == "list(object({a = string}))"
        bad = tmp_path / "bad.json"
        bad.write_text("{}")
        assert CliRunner().invoke(catalog_cli, ["import", str(bad)]).exit_code != 0
    finally:
        reset_settings()
        reset_catalog_cache()


def test_catalog_endpoint_lists_and_filters_types(catalog):
    with create_test_client(route_handlers=[CatalogController], dependencies={}) as client:
        resp = client.get("/api/v1/catalog/resource-types", params={"provider": "aws", "limit": 500})
        assert resp.status_code == 200
        body = resp.json()
        types = [t["type"] for t in body["items"]]
        assert "aws_subnet" in types and all(t["provider"] == "aws" for t in body["items"])
        subnet = next(t for t in body["items"] if t["type"] == "aws_subnet")
        assert subnet["references"][0] == {
            "property": "vpc_id",
            "targets": ["aws_vpc"],
            "attribute": "id",
            "contains": True,
        }
        assert subnet["properties"]["vpc_id"]["required"] is True
        first = client.get("/api/v1/catalog/resource-types", params={"limit": 10}).json()
        second = client.get(
            "/api/v1/catalog/resource-types", params={"limit": 10, "cursor": first["next_cursor"]}
        ).json()
        assert first["items"][-1]["type"] < second["items"][0]["type"]
        kinds = {
            t["kind"]
            for t in client.get(
                "/api/v1/catalog/resource-types", params={"limit": 500, "kind": "module"}
            ).json()["items"]
        }
        assert kinds == {"module"}
