"""The resource catalog: what Board3 knows about each node type (schema, references, provider).

Built from plain documents (``seeds/catalog/*.json`` plus user extensions) by pure functions; the
only I/O is :func:`read_catalog_sources`, and :func:`get_catalog` caches the result per process
because every request reads it. The document format is described in ``docs/terraform.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec

from app.terraform.catalog_types import (
    IDENTIFIER,
    CatalogError,
    Kind,
    ModuleSpec,
    NodeType,
    PropertySpec,
    ProviderDoc,
    ReferenceRule,
    TypeSpec,
)
from app.terraform.modules import module_spec
from app.terraform.types import TypeError_, parse_type

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_CATALOG_DIR = REPO_ROOT / "seeds" / "catalog"
MODULES_DIR = REPO_ROOT / "terraform_modules"


class Catalog:
    """The merged catalog: providers, node types by name, and bundled modules."""

    def __init__(self, providers: dict[str, ProviderDoc], modules: dict[str, ModuleSpec]) -> None:
        self.providers = providers
        self.modules = modules
        self.types: dict[str, NodeType] = {}
        for name in sorted(providers):
            doc = providers[name]
            for tname, spec in doc.resources.items():
                self.types[tname] = NodeType(tname, "resource", name, spec)
            for tname, spec in doc.data_sources.items():
                self.types["data." + tname] = NodeType("data." + tname, "data", name, spec)
        self._rules: dict[tuple[str, str], list[ReferenceRule]] = {}
        self._any_rules: dict[str, list[ReferenceRule]] = {}
        for ntype in self.types.values():
            for rule in ntype.spec.references:
                for target in rule.targets:
                    if target == "*":
                        self._any_rules.setdefault(ntype.type, []).append(rule)
                    else:
                        self._rules.setdefault((ntype.type, target), []).append(rule)

    def get(self, type_name: str) -> NodeType | None:
        return self.types.get(type_name)

    def module(self, type_name: str) -> ModuleSpec | None:
        if not type_name.startswith("module."):
            return None
        return self.modules.get(type_name.removeprefix("module."))

    def provider_for(self, type_name: str) -> ProviderDoc | None:
        ntype = self.types.get(type_name)
        return self.providers.get(ntype.provider) if ntype else None

    def rules_between(self, source_type: str, target_type: str) -> list[ReferenceRule]:
        """Reference rules of ``source_type`` whose targets include ``target_type`` (catalog order).

        A rule with target ``*`` matches every resource and data source type.
        """
        rules = self._rules.get((source_type, target_type), [])
        if source_type in self._any_rules and target_type in self.types:
            return rules + self._any_rules[source_type]
        return rules

    def rule_for(self, source_type: str, target_type: str, prop: str | None) -> ReferenceRule | None:
        """The rule an edge uses: the one for ``prop`` when given, else the first for the pair."""
        for rule in self.rules_between(source_type, target_type):
            if prop is None or rule.property == prop:
                return rule
        return None

    def kind_of(self, type_name: str) -> Kind | None:
        if type_name in ("variable", "output"):
            return type_name  # type: ignore[return-value]
        if type_name.startswith("module."):
            return "module" if self.module(type_name) else None
        ntype = self.types.get(type_name)
        return ntype.kind if ntype else None


# --------------------------------------------------------------------------------------------
# Pure construction
# --------------------------------------------------------------------------------------------


def parse_provider_doc(data: Mapping[str, Any], origin: str = "document") -> ProviderDoc:
    """Decode and check one catalog document (raises CatalogError naming ``origin``)."""
    try:
        doc = msgspec.convert(data, type=ProviderDoc)
    except msgspec.ValidationError as exc:
        raise CatalogError(f"{origin}: {exc}") from None
    for kind, entries in (("resources", doc.resources), ("data_sources", doc.data_sources)):
        for name, spec in entries.items():
            where = f"{origin}: {kind}.{name}"
            if not IDENTIFIER.match(name):
                raise CatalogError(f"{where}: not a valid Terraform type name")
            _check_properties(spec.properties, where)
            for attr, atype in spec.attributes.items():
                _check_type(atype, f"{where}.attributes.{attr}")
            for rule in spec.references:
                if property_spec(spec, rule.property) is None:
                    raise CatalogError(f"{where}: reference rule for unknown property {rule.property!r}")
    return doc


def property_spec(spec: TypeSpec, path: str) -> PropertySpec | None:
    """The spec of ``prop`` or of ``block.prop`` (an attribute inside a nested block)."""
    head, _, rest = path.partition(".")
    prop = spec.properties.get(head)
    if prop is None or not rest:
        return prop
    if prop.block is None or "." in rest:
        return None
    return prop.properties.get(rest)


def _check_properties(props: Mapping[str, PropertySpec], where: str) -> None:
    for pname, prop in props.items():
        if prop.block is None:
            _check_type(prop.type, f"{where}.properties.{pname}")
        else:
            _check_properties(prop.properties, f"{where}.properties.{pname}")


def _check_type(text: str, where: str) -> None:
    try:
        parse_type(text)
    except TypeError_ as exc:
        raise CatalogError(f"{where}: {exc}") from None


def merge_docs(base: ProviderDoc, ext: ProviderDoc) -> ProviderDoc:
    """Overlay a user extension on a seed document of the same provider.

    Types from ``ext`` replace those of ``base``, but keep the seed's reference rules, category and
    description when the extension has none (a provider schema carries no reference rules).
    """

    def overlay(old: dict[str, TypeSpec], new: dict[str, TypeSpec]) -> dict[str, TypeSpec]:
        merged = dict(old)
        for name, spec in new.items():
            prev = old.get(name)
            if prev is not None:
                rules = spec.references or [r for r in prev.references if r.property in spec.properties]
                spec = msgspec.structs.replace(
                    spec,
                    references=rules,
                    category=prev.category if spec.category == "other" else spec.category,
                    description=spec.description or prev.description,
                    example=spec.example or prev.example,
                )
            merged[name] = spec
        return merged

    return msgspec.structs.replace(
        base,
        source=ext.source or base.source,
        version=ext.version or base.version,
        settings={**base.settings, **ext.settings},
        config_blocks=sorted(set(base.config_blocks) | set(ext.config_blocks)),
        resources=overlay(base.resources, ext.resources),
        data_sources=overlay(base.data_sources, ext.data_sources),
    )


def build_catalog(
    seed_docs: Iterable[tuple[str, Mapping[str, Any]]],
    extension_docs: Iterable[tuple[str, Mapping[str, Any]]] = (),
    modules: Mapping[str, Mapping[str, str]] | None = None,
) -> Catalog:
    """Build a Catalog from ``(origin, document)`` pairs and module sources (``name -> files``)."""
    providers: dict[str, ProviderDoc] = {}
    for origin, data in seed_docs:
        doc = parse_provider_doc(data, origin)
        if doc.provider in providers:
            raise CatalogError(f"{origin}: provider {doc.provider!r} is defined twice")
        providers[doc.provider] = doc
    for origin, data in extension_docs:
        doc = parse_provider_doc(data, origin)
        prev = providers.get(doc.provider)
        providers[doc.provider] = merge_docs(prev, doc) if prev else doc
    seen: dict[str, str] = {}
    for doc in providers.values():
        for name in (*doc.resources, *doc.data_sources):
            key = name if name in doc.resources else "data." + name
            if key in seen and seen[key] != doc.provider:
                raise CatalogError(f"type {key!r} is defined by providers {seen[key]!r} and {doc.provider!r}")
            seen[key] = doc.provider
    specs = {name: module_spec(name, files) for name, files in sorted((modules or {}).items())}
    return Catalog(providers, specs)


# --------------------------------------------------------------------------------------------
# I/O: the one function that reads files, and the per-process cache
# --------------------------------------------------------------------------------------------


def read_catalog_sources(
    data_dir: Path | None,
    seed_dir: Path = SEED_CATALOG_DIR,
    modules_dir: Path = MODULES_DIR,
) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]], dict[str, dict[str, str]]]:
    """Read seed documents, user extensions (``<data_dir>/catalog/*.json``) and bundled modules."""

    def read_dir(path: Path) -> list[tuple[str, Any]]:
        if not path.is_dir():
            return []
        docs = []
        for file in sorted(path.glob("*.json")):
            try:
                docs.append((str(file), msgspec.json.decode(file.read_bytes())))
            except msgspec.DecodeError as exc:
                raise CatalogError(f"{file}: {exc}") from None
        return docs

    modules: dict[str, dict[str, str]] = {}
    if modules_dir.is_dir():
        for mdir in sorted(p for p in modules_dir.iterdir() if p.is_dir()):
            files = {f.name: f.read_text(encoding="utf-8") for f in sorted(mdir.glob("*.tf"))}
            if files:
                modules[mdir.name] = files
    extensions = read_dir(data_dir / "catalog") if data_dir is not None else []
    return read_dir(seed_dir), extensions, modules


def load_catalog(data_dir: Path | None) -> Catalog:
    """Read and build the catalog (seeds + extensions under ``data_dir`` + bundled modules)."""
    seeds, extensions, modules = read_catalog_sources(data_dir)
    return build_catalog(seeds, extensions, modules)


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    """The process-wide catalog, loaded once from the configured data dir."""
    from app.config import get_settings

    return load_catalog(get_settings().data_dir)


def reset_catalog_cache() -> None:
    """Forget the cached catalog (after ``board3 catalog import`` in the same process, or in tests)."""
    get_catalog.cache_clear()
