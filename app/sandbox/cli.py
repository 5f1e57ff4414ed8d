"""``board3 sandbox ...``: install the provider, print the environment, change resources by hand."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import msgspec

from app.config import get_settings
from app.lib.errors import AppError
from app.sandbox import PROVIDER_SOURCE, PROVIDER_VERSION, STORE_ENV
from app.sandbox.install import install_mirror, terraform_env
from app.sandbox.schemas import SandboxResourceRead
from app.sandbox.service import SandboxConsole
from app.sandbox.specs import RESOURCE_TYPES
from app.sandbox.store import Record, SandboxStore, store_path_from_env


def parse_assignment(text: str) -> tuple[str, Any]:
    """``attr=value``: the value is JSON when it parses as JSON, else the plain string."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"{text!r} is not of the form attr=value", param_hint="ASSIGNMENT")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return name.strip(), value


@contextmanager
def _console() -> Iterator[SandboxConsole]:
    """The console on the store the settings point at; its refusals become CLI errors."""
    store = SandboxStore(store_path_from_env(os.environ, get_settings().data_dir))
    try:
        yield SandboxConsole(store)
    except AppError as exc:
        lines = [exc.detail] + [f"  {e.field}: {e.message}" for e in exc.errors]
        raise click.ClickException("\n".join(lines)) from None
    finally:
        store.close()


def _summary(record: Record) -> str:
    attrs = record.attributes
    for key in ("name", "cidr_block", "private_ip", "dns_name"):
        if attrs.get(key):
            return f"{key}={attrs[key]}"
    return ""


def _as_json(record: Record) -> Any:
    return msgspec.to_builtins(SandboxResourceRead.from_record(record))  # as the API shows it


@click.group("sandbox")
def sandbox() -> None:
    """The offline sandbox cloud: a Terraform provider that needs no account and no network."""


@sandbox.command("install")
def install_command() -> None:
    """Write the provider mirror and the Terraform CLI config under the data dir (idempotent)."""
    install = install_mirror(get_settings().data_dir)
    click.echo(f"provider   {PROVIDER_SOURCE} {PROVIDER_VERSION}")
    click.echo(f"mirror     {install.mirror_dir}")
    click.echo(f"cli config {install.cli_config}")
    click.echo(f"store      {store_path_from_env(os.environ, install.data_dir)}")


@sandbox.command("env")
def env_command() -> None:
    """Print `export` lines for running terraform by hand: eval "$(board3 sandbox env)"."""
    data_dir = get_settings().data_dir
    install_mirror(data_dir)
    store = store_path_from_env(os.environ, data_dir)
    env = terraform_env(data_dir, store)
    for name, value in env.items():
        click.echo(f"export {name}={shlex.quote(value)}")
    # On stderr, so `eval` leaves it on the screen: a server started with another BOARD3_DATA_DIR
    # (or BOARD3_SANDBOX_STORE) keeps its sandbox elsewhere, and its console would not see this one.
    click.echo(f"board3: sandbox store {env[STORE_ENV]} ({_store_origin(data_dir)})", err=True)


def _store_origin(data_dir: Path) -> str:
    """Why the store is where it is, in the words of the setting that put it there."""
    if os.environ.get(STORE_ENV, "").strip():
        return f"from {STORE_ENV}"
    if os.environ.get("BOARD3_DATA_DIR", "").strip():
        return f"in BOARD3_DATA_DIR {data_dir}"
    return f"in the default data dir {data_dir}; set BOARD3_DATA_DIR to use another"


@sandbox.command("list")
@click.option("--type", "type_name", type=click.Choice(sorted(RESOURCE_TYPES)), help="Only this type.")
@click.option("--json", "as_json", is_flag=True, help="Print every attribute as JSON.")
def list_command(type_name: str | None, as_json: bool) -> None:
    """List the resources the sandbox cloud holds."""
    with _console() as console:
        records = console.resources(type_name)
    if as_json:
        click.echo(json.dumps([_as_json(r) for r in records], indent=2, sort_keys=True))
        return
    for r in records:
        click.echo(f"{r.id:<26} {r.type:<24} v{r.version:<4} {_summary(r)}")


@sandbox.command("show")
@click.argument("resource_id")
def show_command(resource_id: str) -> None:
    """Print one resource as JSON."""
    with _console() as console:
        record = console.get(resource_id)
    click.echo(json.dumps(_as_json(record), indent=2, sort_keys=True))


@sandbox.command("set")
@click.argument("resource_id")
@click.argument("assignments", nargs=-1, required=True)
def set_command(resource_id: str, assignments: tuple[str, ...]) -> None:
    """Change attributes out of band, e.g. `set i-0abc size=xlarge 'tags={"a":"b"}'`."""
    changes = dict(parse_assignment(a) for a in assignments)
    with _console() as console:
        record = console.patch(resource_id, changes)
    changed = ", ".join(f"{k}={json.dumps(record.attributes.get(k))}" for k in changes)
    click.echo(f"{record.id} v{record.version}: {changed}")


@sandbox.command("delete")
@click.argument("resource_id")
def delete_command(resource_id: str) -> None:
    """Delete a resource out of band (Terraform will see it as deleted outside Terraform)."""
    with _console() as console:
        console.delete(resource_id)
    click.echo(f"deleted {resource_id}")
