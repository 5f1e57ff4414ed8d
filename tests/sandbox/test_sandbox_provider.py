"""The provider's glue to the plugin protocol, in process (gRPC servicer) and as a launched plugin."""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from pathlib import Path

import msgpack
import pytest
from tf.checker import check_attributes
from tf.gen import tfplugin_pb2 as pb
from tf.provider import ProviderServicer
from tf.types import Unknown
from tf.utils import Diagnostics, to_dynamic_value

from app.sandbox import STORE_ENV
from app.sandbox.cloud import SandboxCloud
from app.sandbox.install import SandboxInstall
from app.sandbox.provider import (
    RESOURCE_CLASSES,
    SandboxImage,
    SandboxProvider,
    known_values,
    resolve_store_path,
)
from app.sandbox.specs import RESOURCE_TYPES
from app.sandbox.store import SandboxStore


def _config(type_name: str, **values: object) -> pb.DynamicValue:
    spec = RESOURCE_TYPES[type_name]
    full: dict[str, object] = dict.fromkeys(spec.field_names)
    for block in spec.blocks:
        full[block.name] = []
    full.update(values)
    return to_dynamic_value(full)


@pytest.fixture
def servicer(tmp_path: Path) -> ProviderServicer:
    servicer = ProviderServicer(SandboxProvider())
    config = to_dynamic_value({"store_path": str(tmp_path / "store.sqlite3")})
    response = servicer.ConfigureProvider(pb.ConfigureProvider.Request(config=config), None)
    assert list(response.diagnostics) == []
    return servicer


def test_every_schema_is_well_formed_and_flags_replacement() -> None:
    for klass in [*RESOURCE_CLASSES, SandboxImage]:
        schema = klass.get_schema()
        diags = Diagnostics()
        check_attributes(diags, schema.attributes)
        for block in schema.block_types:
            check_attributes(diags, block.block.attributes)
        assert not diags.has_errors(), (klass.get_name(), str(diags))
        schema.to_pb()
    network = next(k for k in RESOURCE_CLASSES if k.get_name() == "network").get_schema()
    flags = {a.name: a.requires_replace for a in network.attributes}
    assert flags == {"id": False, "cidr_block": True, "tags": False, "arn": False}


def test_provider_schema_lists_every_type(servicer: ProviderServicer) -> None:
    response = servicer.GetProviderSchema(pb.GetProviderSchema.Request(), None)
    assert sorted(response.resource_schemas) == sorted(RESOURCE_TYPES)
    assert list(response.data_source_schemas) == ["sandbox_image"]
    assert [a.name for a in response.provider.block.attributes] == ["store_path"]


def test_validation_diagnostics_carry_the_attribute_path(servicer: ProviderServicer) -> None:
    request = pb.ValidateResourceConfig.Request(
        type_name="sandbox_network", config=_config("sandbox_network", cidr_block="10.0.0.1/16")
    )
    diagnostics = list(servicer.ValidateResourceConfig(request, None).diagnostics)
    assert [d.summary for d in diagnostics] == ["Invalid cidr_block"]
    assert [s.attribute_name for s in diagnostics[0].attribute.steps] == ["cidr_block"]


def test_unknown_values_are_not_validated_yet() -> None:
    config = {
        "cidr_block": Unknown,
        "tags": {"a": Unknown},
        "ingress": [{"protocol": "tcp", "to_port": Unknown}],
    }
    assert known_values(config) == {"ingress": [{"protocol": "tcp"}]}


def test_refined_unknowns_are_planned_as_unknown(servicer: ProviderServicer) -> None:
    """Terraform >= 1.6 sends unknowns with refinements (msgpack extension 12) for strings, lists and
    maps alike; the provider must plan each as unknown, not mangle or refuse it."""
    refined = msgpack.ExtType(12, msgpack.packb({1: False}))  # refinement: "not null"
    config = _config("sandbox_load_balancer", subnet_ids=refined, name=refined, tags=refined)
    validated = servicer.ValidateResourceConfig(
        pb.ValidateResourceConfig.Request(type_name="sandbox_load_balancer", config=config), None
    )
    assert list(validated.diagnostics) == []
    planned = servicer.PlanResourceChange(
        pb.PlanResourceChange.Request(
            type_name="sandbox_load_balancer", config=config, proposed_new_state=config
        ),
        None,
    )
    assert list(planned.diagnostics) == []
    values = msgpack.unpackb(planned.planned_state.msgpack)
    plain_unknown = msgpack.ExtType(0, b"\x00")
    assert values["subnet_ids"] == values["name"] == values["tags"] == plain_unknown


def test_plan_refuses_a_database_downgrade(servicer: ProviderServicer, tmp_path: Path) -> None:
    """The refusal comes at plan time, before anything is applied."""
    prior = _config(
        "sandbox_database", id="db-1", engine="postgres", version="16", storage_gb=50, subnet_ids=["s-1"]
    )
    proposed = _config(
        "sandbox_database", id="db-1", engine="postgres", version="15", storage_gb=20, subnet_ids=["s-1"]
    )
    response = servicer.PlanResourceChange(
        pb.PlanResourceChange.Request(
            type_name="sandbox_database", prior_state=prior, config=proposed, proposed_new_state=proposed
        ),
        None,
    )
    paths = [[s.attribute_name for s in d.attribute.steps] for d in response.diagnostics]
    assert paths == [["version"], ["storage_gb"]]


def test_create_read_delete_through_the_servicer(servicer: ProviderServicer) -> None:
    planned = _config("sandbox_network", cidr_block="10.0.0.0/16", id=Unknown, arn=Unknown)
    created = servicer.ApplyResourceChange(
        pb.ApplyResourceChange.Request(type_name="sandbox_network", planned_state=planned), None
    )
    assert list(created.diagnostics) == []
    state = msgpack.unpackb(created.new_state.msgpack)
    assert state["id"].startswith("net-") and state["cidr_block"] == "10.0.0.0/16"
    read = servicer.ReadResource(
        pb.ReadResource.Request(type_name="sandbox_network", current_state=created.new_state), None
    )
    assert msgpack.unpackb(read.new_state.msgpack) == state
    servicer.ApplyResourceChange(
        pb.ApplyResourceChange.Request(type_name="sandbox_network", prior_state=created.new_state), None
    )
    gone = servicer.ReadResource(
        pb.ReadResource.Request(type_name="sandbox_network", current_state=created.new_state), None
    )
    assert gone.new_state.msgpack == b""  # null: Terraform reports the resource as deleted


def test_import_reads_the_resource_by_id(servicer: ProviderServicer, tmp_path: Path) -> None:
    store = SandboxStore(tmp_path / "store.sqlite3")
    network = SandboxCloud(store).create("sandbox_network", {"cidr_block": "10.0.0.0/16"})
    store.close()
    imported = servicer.ImportResourceState(
        pb.ImportResourceState.Request(type_name="sandbox_network", id=network["id"]), None
    )
    assert [msgpack.unpackb(r.state.msgpack) for r in imported.imported_resources] == [network]
    missing = servicer.ImportResourceState(
        pb.ImportResourceState.Request(type_name="sandbox_network", id="net-x"), None
    )
    assert list(missing.imported_resources) == [] and missing.diagnostics[0].summary == "Cannot import"


def test_store_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_store_path("/a/b.sqlite3", {STORE_ENV: "/c/d.sqlite3"}) == Path("/a/b.sqlite3")
    assert resolve_store_path(None, {STORE_ENV: "/c/d.sqlite3"}) == Path("/c/d.sqlite3")
    assert resolve_store_path("rel.sqlite3", {}) == tmp_path / "rel.sqlite3"
    monkeypatch.setenv("BOARD3_DATA_DIR", str(tmp_path / "data"))
    from app.config import reset_settings

    reset_settings()
    try:
        assert resolve_store_path(None, {}) == tmp_path / "data/sandbox/store.sqlite3"
    finally:
        reset_settings()


def test_launcher_completes_the_plugin_handshake(sandbox: SandboxInstall, provider_home: Path) -> None:
    """Terraform reads ``1|6|unix|<socket>|grpc|<cert>`` on stdout; nothing else may come first."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(provider_home), "PYTHONPATH": "/nonexistent"}
    started = time.monotonic()
    with subprocess.Popen(
        [str(sandbox.launcher)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    ) as proc:
        assert proc.stdout is not None
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(proc.stdout, selectors.EVENT_READ)
                assert selector.select(timeout=20), "no handshake within 20 s"
            line = proc.stdout.readline().decode()
            elapsed = time.monotonic() - started
        finally:
            proc.terminate()
    core, proto, network, address, kind, cert = line.strip().split("|")
    assert (core, proto, network, kind) == ("1", "6", "unix", "grpc")
    assert address.endswith(".sock") and len(cert) > 100
    assert elapsed < 5, f"handshake took {elapsed:.2f} s"
