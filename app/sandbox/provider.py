"""The Terraform provider ``board3.local/board3/sandbox``, served over the plugin protocol by ``tf``.

Terraform runs this module through the launcher that ``install_mirror`` writes. Schemas are built
from ``app.sandbox.specs``; every operation goes through ``SandboxCloud``, whose ``Problem``s become
diagnostics pointing at the attribute at fault. Only light modules are imported here: Terraform
launches the provider several times per command, so import time is on every user's clock.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sqlite3
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import tf.utils
from tf import schema as tfschema
from tf import types as tftypes
from tf.blocks import SetNestedBlock
from tf.iface import (
    Config,
    CreateContext,
    DataSource,
    DeleteContext,
    ImportContext,
    PlanContext,
    Provider,
    ReadContext,
    ReadDataContext,
    Resource,
    State,
    UpdateContext,
    UpgradeContext,
)
from tf.types import Unknown
from tf.utils import Diagnostics

from app.sandbox import PROVIDER_SOURCE, STORE_ENV
from app.sandbox.cloud import CloudError, SandboxCloud
from app.sandbox.rules import Problem, find_image, validate_config, validate_update
from app.sandbox.specs import IMAGE_DATA, RESOURCE_TYPES, AttrSpec, Kind, TypeSpec
from app.sandbox.store import SandboxStore, StoreError, default_store_path


def _tf_type(kind: Kind) -> Any:
    return {
        "string": tftypes.String(),
        "number": tftypes.Number(),
        "bool": tftypes.Bool(),
        "string_list": tftypes.List(tftypes.String()),
        "string_set": tftypes.Set(tftypes.String()),
        "string_map": tftypes.Map(tftypes.String()),
    }[kind]


def _attribute(spec: AttrSpec) -> tfschema.Attribute:
    return tfschema.Attribute(
        spec.name,
        _tf_type(spec.kind),
        description=spec.description,
        required=spec.required,
        optional=spec.optional,
        computed=spec.computed,
        requires_replace=spec.replace,
        default=spec.default if spec.has_default else Unknown,
        description_kind=tfschema.TextFormat.Plain,
    )


@functools.cache
def tf_schema(spec: TypeSpec) -> tfschema.Schema:
    """The Terraform schema of a sandbox type (version 0: no state upgrades yet); built once."""
    blocks = [
        SetNestedBlock(b.name, tfschema.Block(attributes=[_attribute(a) for a in b.attributes]))
        for b in spec.blocks
    ]
    return tfschema.Schema(
        version=0,
        attributes=[_attribute(a) for a in spec.attributes],
        block_types=blocks,
        description=spec.description,
        description_kind=tfschema.TextFormat.Plain,
    )


def _any_extension_is_unknown(code: int, data: bytes) -> Any:
    """Decode every msgpack extension Terraform sends as ``Unknown``.

    Terraform >= 1.6 sends unknowns with refinements (extension 12, e.g. "not null") besides plain
    ones (extension 0). ``tf`` 1.2 only knows extension 0 and hands the rest over as raw ``ExtType``,
    which its own list and map decoding then mangles ("Failed to decode field 'tags'" at plan). Go
    providers (terraform-plugin-go) read any extension as unknown and drop refinements; so do we,
    here, where values are decoded, so the rest of the provider only ever sees ``Unknown``.
    """
    return Unknown


tf.utils._msgpack_ext_hook = _any_extension_is_unknown  # read_dynamic_value looks it up per call


def _is_known(value: Any) -> bool:
    if value is Unknown:
        return False
    if isinstance(value, list):
        return all(_is_known(v) for v in value)
    if isinstance(value, dict):
        return all(_is_known(v) for v in value.values())
    return True


def known_values(config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration without values Terraform does not know yet (references to new objects)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out[key] = [{k: v for k, v in item.items() if _is_known(v)} for item in value]
        elif _is_known(value):
            out[key] = value
    return out


def report(diags: Diagnostics, problems: list[Problem]) -> None:
    for problem in problems:
        diags.add_error(problem.summary, problem.detail, path=list(problem.path) or None)


def resolve_store_path(configured: str | None, environ: Mapping[str, str]) -> Path:
    """``store_path`` from the provider block, else ``BOARD3_SANDBOX_STORE``, else the data dir's."""
    raw = configured or environ.get(STORE_ENV, "").strip()
    if raw:
        path = Path(raw).expanduser()
        return path if path.is_absolute() else Path.cwd() / path
    from app.config import get_settings  # only when nothing was configured: reads BOARD3_DATA_DIR

    return default_store_path(get_settings().data_dir)


class SandboxProvider(Provider):
    def __init__(self) -> None:
        self._cloud: SandboxCloud | None = None

    @property
    def cloud(self) -> SandboxCloud:
        if self._cloud is None:  # Terraform always configures first; this keeps direct use working
            self._cloud = SandboxCloud(SandboxStore(resolve_store_path(None, os.environ)))
        return self._cloud

    def get_model_prefix(self) -> str:
        return "sandbox_"

    def full_name(self) -> str:
        return PROVIDER_SOURCE

    def get_provider_schema(self, diags: Diagnostics) -> tfschema.Schema:
        store_path = tfschema.Attribute(
            "store_path",
            tftypes.String(),
            description=f"Path of the sandbox store file. Default: ${STORE_ENV}, else in $BOARD3_DATA_DIR.",
            optional=True,
            description_kind=tfschema.TextFormat.Plain,
        )
        return tfschema.Schema(version=0, attributes=[store_path])

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        value = config.get("store_path")
        if value is not None and value is not Unknown and not str(value).strip():
            diags.add_error("Invalid store_path", "store_path must not be empty.", path=["store_path"])

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        value = config.get("store_path")
        try:
            path = resolve_store_path(value if isinstance(value, str) else None, os.environ)
        except Exception as exc:  # a bad BOARD3_* variable: say which
            diags.add_error("Sandbox store path", str(exc))
            return
        self._cloud = SandboxCloud(SandboxStore(path))

    def get_data_sources(self) -> list[type[DataSource]]:
        return [SandboxImage]

    def get_resources(self) -> list[type[Resource]]:
        return list(RESOURCE_CLASSES)


def _plain(value: Any) -> Any:
    if value is Unknown:
        return None
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class _SpecBacked:
    """What the resources and the data source share: a spec, its schema and the config checks.

    Comes first in the bases, so ``validate`` runs tf's own field checks through ``super()``."""

    spec: ClassVar[TypeSpec]

    def __init__(self, provider: SandboxProvider) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return cls.spec.name.removeprefix("sandbox_")

    @classmethod
    def get_schema(cls) -> tfschema.Schema:
        return tf_schema(cls.spec)

    def validate(self, diags: Diagnostics, type_name: str, config: Config) -> None:
        super().validate(diags, type_name, config)  # type: ignore[misc]  # Resource or DataSource
        report(diags, validate_config(type_name, known_values(config)))


class SandboxResource(_SpecBacked, Resource):
    """CRUD for one sandbox type; subclasses only set ``spec``."""

    def plan(self, ctx: PlanContext, current: State | None, planned: State) -> State:
        if current is not None:
            report(ctx.diagnostics, validate_update(ctx.type_name, current, known_values(planned)))
        return planned

    def _call(self, diags: Diagnostics, operation: Any, *args: Any) -> Any:
        try:
            return operation(*args)
        except CloudError as exc:
            report(diags, exc.problems)
        except (StoreError, sqlite3.Error, OSError) as exc:
            diags.add_error("Sandbox store error", f"{type(exc).__name__}: {exc}")
        return None

    def create(self, ctx: CreateContext, planned: State) -> State | None:
        return self._call(ctx.diagnostics, self.provider.cloud.create, ctx.type_name, _plain(planned))

    def read(self, ctx: ReadContext, current: State) -> State | None:
        if not current.get("id"):
            return None
        return self._call(ctx.diagnostics, self.provider.cloud.read, ctx.type_name, current["id"])

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        cloud = self.provider.cloud
        return self._call(ctx.diagnostics, cloud.update, ctx.type_name, current["id"], _plain(planned))

    def delete(self, ctx: DeleteContext, current: State) -> State | None:
        self._call(ctx.diagnostics, self.provider.cloud.delete, ctx.type_name, current["id"])
        return None

    def import_(self, ctx: ImportContext, id: str) -> State | None:
        state = self._call(ctx.diagnostics, self.provider.cloud.read, ctx.type_name, id)
        if state is None and not ctx.diagnostics.has_errors():
            ctx.diagnostics.add_error("Cannot import", f"there is no {ctx.type_name} with id {id!r}.")
        return state

    def upgrade(self, ctx: UpgradeContext, version: int, old: State) -> State | None:
        return old  # schema version 0 is the only one so far


RESOURCE_CLASSES: tuple[type[SandboxResource], ...] = tuple(
    type(f"{''.join(p.title() for p in name.split('_'))}Resource", (SandboxResource,), {"spec": spec})
    for name, spec in RESOURCE_TYPES.items()
)


class SandboxImage(_SpecBacked, DataSource):
    """``data "sandbox_image"``: an image by name."""

    spec = IMAGE_DATA

    def read(self, ctx: ReadDataContext, config: Config) -> State | None:
        image = find_image(str(config.get("name")))
        if image is None:
            report(ctx.diagnostics, validate_config(ctx.type_name, {"name": config.get("name")}))
            return None
        return {**dataclasses.asdict(image), "name": config.get("name")}  # the name as configured


def _finish_in_flight_work() -> None:
    """Make StopProvider what it is for real clouds: a request to stop starting work, while calls in
    flight (an instance that is booting) run to completion, so a gracefully interrupted terraform
    records them in the state. ``tf`` stops its gRPC server at once on StopProvider, failing those
    calls; only go-plugin's Shutdown, sent once terraform is done, should end the process."""
    from tf import runner

    def intercept_service(self: Any, continuation: Any, handler_call_details: Any) -> Any:
        result = continuation(handler_call_details)
        if handler_call_details.method == "/plugin.GRPCController/Shutdown" and self.server is not None:
            self.stopped = True
            self.server.stop(grace=0)
        return result

    runner._ShutdownInterceptor.intercept_service = intercept_service


def main() -> None:
    from tf.runner import run_provider

    _finish_in_flight_work()
    run_provider(SandboxProvider(), sys.argv)


if __name__ == "__main__":
    main()
