"""Out-of-band edits: ``board3 sandbox ...`` and ``/api/v1/sandbox/resources`` on a real store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.di import Provide
from litestar.testing import TestClient, create_test_client

from app import config
from app.config import load_settings, reset_settings
from app.lib.pagination import encode_cursor
from app.lib.problem import EXCEPTION_HANDLERS
from app.sandbox.cli import parse_assignment, sandbox
from app.sandbox.cloud import SandboxCloud
from app.sandbox.controller import SandboxController, provide_sandbox_store
from app.sandbox.install import SandboxInstall
from app.sandbox.provider import resolve_store_path
from app.sandbox.store import SandboxStore, default_store_path

URL = "/api/v1/sandbox/resources"


@pytest.fixture
def world(board3_env: SandboxInstall) -> Iterator[dict[str, Any]]:
    """A network, a subnet and an instance in the store the settings point at."""
    store = SandboxStore(board3_env.store_path)
    cloud = SandboxCloud(store)
    net = cloud.create("sandbox_network", {"cidr_block": "10.0.0.0/16"})
    subnet = cloud.create("sandbox_subnet", {"network_id": net["id"], "cidr_block": "10.0.1.0/24"})
    instance = cloud.create("sandbox_instance", {"subnet_id": subnet["id"], "image": "debian-12"})
    yield {"store": store, "network": net, "subnet": subnet, "instance": instance}
    store.close()


@pytest.fixture
def client(world: dict[str, Any]) -> Iterator[TestClient]:
    with create_test_client(
        route_handlers=[SandboxController],
        dependencies={"sandbox_store": Provide(provide_sandbox_store)},
        exception_handlers=EXCEPTION_HANDLERS,
    ) as test_client:
        yield test_client


def invoke(*args: str) -> Any:
    return CliRunner().invoke(sandbox, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("size=xlarge", ("size", "xlarge")),
        ("boot_seconds=5", ("boot_seconds", 5)),
        ('tags={"a":"b"}', ("tags", {"a": "b"})),
        ("tags=null", ("tags", None)),
        ("name=a=b", ("name", "a=b")),
        ("versioning=true", ("versioning", True)),
    ],
)
def test_assignments_parse_json_else_string(text: str, expected: tuple[str, Any]) -> None:
    assert parse_assignment(text) == expected


def test_cli_install_and_env(board3_env: SandboxInstall) -> None:
    result = invoke("install")
    assert result.exit_code == 0 and str(board3_env.mirror_dir) in result.output
    lines = invoke("env").output.splitlines()
    assert f"export TF_CLI_CONFIG_FILE={board3_env.cli_config}" in lines
    assert f"export BOARD3_SANDBOX_STORE={board3_env.store_path}" in lines
    assert "export CHECKPOINT_DISABLE=1" in lines


def test_cli_env_without_a_data_dir_uses_the_checkouts_store_and_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Run from another directory, `sandbox env` must point terraform at the store the server (started
    from the checkout) uses, and tell which one it is."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "pyproject.toml").write_text("")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setattr(config, "PROJECT_ROOT", checkout)
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("BOARD3_DATA_DIR")
    monkeypatch.delenv("BOARD3_SANDBOX_STORE", raising=False)
    reset_settings()
    try:
        result = invoke("env")
        server_store = default_store_path(load_settings().data_dir)
        provider_store = resolve_store_path(None, {})
    finally:
        reset_settings()
    expected = checkout / ".board3" / "sandbox" / "store.sqlite3"
    assert server_store == provider_store == expected
    assert f"export BOARD3_SANDBOX_STORE={expected}" in result.stdout.splitlines()
    assert f"board3: sandbox store {expected} (in the default data dir" in result.stderr
    assert "BOARD3_DATA_DIR" in result.stderr
    assert not (elsewhere / ".board3").exists()


def test_cli_env_names_the_setting_that_chose_the_store(board3_env: SandboxInstall, monkeypatch) -> None:
    assert f"(in BOARD3_DATA_DIR {board3_env.data_dir})" in invoke("env").stderr
    monkeypatch.setenv("BOARD3_SANDBOX_STORE", str(board3_env.data_dir / "other.sqlite3"))
    other = board3_env.data_dir / "other.sqlite3"
    assert f"sandbox store {other} (from BOARD3_SANDBOX_STORE)" in invoke("env").stderr


def test_cli_list_set_show_delete(world: dict[str, Any]) -> None:
    instance_id = world["instance"]["id"]
    listing = invoke("list").output
    assert world["network"]["id"] in listing and instance_id in listing
    only = invoke("list", "--type", "sandbox_subnet", "--json").output
    assert [r["id"] for r in json.loads(only)] == [world["subnet"]["id"]]

    result = invoke("set", instance_id, "size=xlarge", 'tags={"touched":"by-hand"}')
    assert result.exit_code == 0, result.output
    stored = world["store"].get(instance_id)
    assert stored.attributes["size"] == "xlarge" and stored.attributes["tags"] == {"touched": "by-hand"}
    shown = json.loads(invoke("show", instance_id).output)
    assert set(shown) == {"id", "type", "attributes", "version", "created_at", "updated_at"}
    assert (shown["version"], shown["attributes"]["size"]) == (2, "xlarge")

    refused = invoke("set", instance_id, "colour=red", "size=7")
    assert refused.exit_code == 1
    assert "attributes.colour" in refused.output and "attributes.size: must be a string" in refused.output
    assert world["store"].get(instance_id).version == 2

    assert invoke("delete", instance_id).exit_code == 0
    assert world["store"].get(instance_id) is None
    missing = invoke("delete", instance_id)
    assert missing.exit_code == 1 and "not found" in missing.output


def test_api_lists_and_filters(client: TestClient, world: dict[str, Any]) -> None:
    body = client.get(URL).json()
    assert [r["id"] for r in body["items"]] == [world[k]["id"] for k in ("network", "subnet", "instance")]
    assert body["next_cursor"] is None
    subnets = client.get(URL, params={"type": "sandbox_subnet"}).json()["items"]
    assert [r["type"] for r in subnets] == ["sandbox_subnet"]
    bad = client.get(URL, params={"type": "aws_vpc"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "type"


def test_api_pages_with_a_cursor(client: TestClient, world: dict[str, Any]) -> None:
    first = client.get(URL, params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get(URL, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [r["id"] for r in second["items"]] == [world["instance"]["id"]]
    assert second["next_cursor"] is None
    for forged in ("!!", encode_cursor([[1]]), encode_cursor(["net-x"]), encode_cursor([1, 2])):
        response = client.get(URL, params={"cursor": forged})
        assert response.status_code == 400, forged
        assert response.json()["errors"][0]["field"] == "query.cursor"


def test_api_get_patch_delete(client: TestClient, world: dict[str, Any]) -> None:
    instance_id = world["instance"]["id"]
    got = client.get(f"{URL}/{instance_id}")
    assert got.status_code == 200
    assert got.json()["attributes"]["private_ip"] == "10.0.1.4" and got.json()["version"] == 1

    patched = client.patch(f"{URL}/{instance_id}", json={"attributes": {"status": "stopped"}})
    assert patched.status_code == 200
    assert patched.json()["attributes"]["status"] == "stopped" and patched.json()["version"] == 2
    assert world["store"].get(instance_id).attributes["status"] == "stopped"

    unknown = client.patch(f"{URL}/{instance_id}", json={"attributes": {"colour": "red"}})
    assert unknown.status_code == 422
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert unknown.json()["errors"] == [
        {"field": "attributes.colour", "message": unknown.json()["errors"][0]["message"]}
    ]
    assert "has no attribute 'colour'" in unknown.json()["errors"][0]["message"]

    extra = client.patch(f"{URL}/{instance_id}", json={"attributes": {"size": "small"}, "force": True})
    assert extra.status_code == 422 and extra.json()["errors"][0]["field"] == "force"

    stale = client.patch(
        f"{URL}/{instance_id}", json={"attributes": {"size": "large"}}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    fresh = client.patch(
        f"{URL}/{instance_id}", json={"attributes": {"size": "large"}}, headers={"If-Match": '"2"'}
    )
    assert fresh.status_code == 200 and fresh.json()["version"] == 3

    assert client.delete(f"{URL}/{instance_id}").status_code == 204
    assert client.get(f"{URL}/{instance_id}").status_code == 404
    assert client.delete(f"{URL}/{instance_id}").status_code == 404
    assert client.patch(f"{URL}/{instance_id}", json={"attributes": {"size": "nano"}}).status_code == 404


def test_api_refuses_a_taken_bucket_name(client: TestClient, world: dict[str, Any]) -> None:
    cloud = SandboxCloud(world["store"])
    cloud.create("sandbox_bucket", {"name": "one"})
    two = cloud.create("sandbox_bucket", {"name": "two"})
    response = client.patch(f"{URL}/{two['id']}", json={"attributes": {"name": "one"}})
    assert response.status_code == 409
    assert response.json()["errors"] == [{"field": "attributes.name", "message": "is already taken"}]


def test_openapi_documents_the_schemas(client: TestClient) -> None:
    schema = client.get("/schema/openapi.json").json()
    assert {"/api/v1/sandbox/resources", "/api/v1/sandbox/resources/{resource_id}"} <= set(schema["paths"])
    components = schema["components"]["schemas"]
    patch_schema = next(v for k, v in components.items() if k.endswith("SandboxResourcePatch"))
    assert patch_schema["properties"]["attributes"]["examples"]
