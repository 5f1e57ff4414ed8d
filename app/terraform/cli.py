"""``board3 catalog ...``: extend the resource catalog from a provider schema."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group("catalog")
def catalog() -> None:
    """Inspect and extend the resource catalog."""


@catalog.command("import")
@click.argument("schema_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--version",
    "versions",
    multiple=True,
    metavar="PROVIDER=CONSTRAINT",
    help="Version constraint to record for a provider, e.g. aws='~> 5.0' (repeatable).",
)
def import_schema(schema_file: Path, versions: tuple[str, ...]) -> None:
    """Add every type of the providers in SCHEMA_FILE (`terraform providers schema -json` output)."""
    from app.config import get_settings
    from app.terraform.catalog import parse_provider_doc, reset_catalog_cache
    from app.terraform.catalog_types import CatalogError
    from app.terraform.provider_schema import docs_from_provider_schema

    constraints: dict[str, str] = {}
    for item in versions:
        name, sep, constraint = item.partition("=")
        if not sep or not name or not constraint:
            raise click.BadParameter(f"expected PROVIDER=CONSTRAINT, got {item!r}", param_hint="--version")
        constraints[name.strip()] = constraint.strip()
    try:
        schema = json.loads(schema_file.read_text(encoding="utf-8"))
        docs = docs_from_provider_schema(schema, constraints)
        for doc in docs:
            parse_provider_doc(doc, f"{schema_file}:{doc['provider']}")
    except (json.JSONDecodeError, ValueError, CatalogError) as exc:
        raise click.ClickException(f"{schema_file}: {exc}") from None
    target = get_settings().data_dir / "catalog"
    target.mkdir(parents=True, exist_ok=True)
    for doc in docs:
        path = target / f"{doc['provider']}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)
        click.echo(
            f"{doc['provider']}: {len(doc['resources'])} resource types, "
            f"{len(doc['data_sources'])} data sources "
            f"-> {path}"
        )
    reset_catalog_cache()
    click.echo("Restart running Board3 servers to load the new catalog.")


@catalog.command("list")
@click.option("--provider", default=None, help="Only this provider's types.")
def list_types(provider: str | None) -> None:
    """List the node types designs may use."""
    from app.terraform.catalog import get_catalog

    cat = get_catalog()
    for name, ntype in sorted(cat.types.items()):
        if provider is None or ntype.provider == provider:
            click.echo(f"{name}\t{ntype.provider}\t{ntype.spec.category}")
    if provider is None:
        for mod in sorted(cat.modules):
            click.echo(f"module.{mod}\tmodule\tmodule")
