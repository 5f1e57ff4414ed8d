"""Catalog documents from ``terraform providers schema -json`` output (pure).

Every resource type and data source of each provider becomes a ``complete`` catalog entry:
settable attributes (required or optional) and nested blocks become properties, computed-only
attributes become referable attributes. Reference rules are guessed from names
(``vpc_id`` -> ``<provider>_vpc``; ``subnet_ids`` -> list of ``<provider>_subnet``); seed rules for
the same types are kept when the documents are merged.
"""

from __future__ import annotations

from typing import Any

from app.terraform.catalog_types import IDENTIFIER


def cty_type(raw: Any) -> str:
    """A cty JSON type (``["list", "string"]``) as a Terraform type expression."""
    if isinstance(raw, str):
        return "any" if raw == "dynamic" else raw
    if isinstance(raw, list) and len(raw) == 2:
        kind, inner = raw
        if kind in ("list", "set", "map"):
            return f"{kind}({cty_type(inner)})"
        if kind == "object" and isinstance(inner, dict):
            return "object({" + ", ".join(f"{k} = {cty_type(v)}" for k, v in sorted(inner.items())) + "})"
        if kind == "tuple" and isinstance(inner, list):
            return "tuple([" + ", ".join(cty_type(v) for v in inner) + "])"
    return "any"


def _nested_type(nested: dict[str, Any]) -> str:
    attrs = nested.get("attributes") or {}
    obj = "object({" + ", ".join(f"{k} = {_attr_type(v)}" for k, v in sorted(attrs.items())) + "})"
    mode = nested.get("nesting_mode", "single")
    return (
        obj
        if mode == "single"
        else f"{'map' if mode == 'map' else 'list' if mode == 'list' else 'set'}({obj})"
    )


def _attr_type(attr: dict[str, Any]) -> str:
    if "nested_type" in attr:
        return _nested_type(attr["nested_type"])
    return cty_type(attr.get("type", "dynamic"))


def _block(block: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(properties, computed attributes) of a schema block."""
    props: dict[str, Any] = {}
    computed: dict[str, str] = {}
    for name, attr in sorted((block.get("attributes") or {}).items()):
        ttype = _attr_type(attr)
        if attr.get("required") or attr.get("optional"):
            prop: dict[str, Any] = {"type": ttype}
            if attr.get("required"):
                prop["required"] = True
            if attr.get("description"):
                prop["description"] = str(attr["description"])[:500]
            if attr.get("sensitive"):
                prop["sensitive"] = True
            props[name] = prop
            if attr.get("computed"):
                computed[name] = ttype
        else:
            computed[name] = ttype
    for name, btype in sorted((block.get("block_types") or {}).items()):
        mode = btype.get("nesting_mode", "list")
        inner, _ = _block(btype.get("block") or {})
        spec: dict[str, Any] = {
            "block": "single" if mode in ("single", "group") else mode if mode == "set" else "list"
        }
        spec["properties"] = inner
        if btype.get("min_items"):
            spec["required"] = True
        if btype.get("max_items"):
            spec["max_items"] = btype["max_items"]
        props[name] = spec
    return props, computed


def _guess_rules(provider: str, props: dict[str, Any], types: set[str]) -> list[dict[str, Any]]:
    rules = []
    for name, spec in props.items():
        if "block" in spec:
            continue
        for suffix, is_list in (("_id", False), ("_ids", True)):
            if name.endswith(suffix) and name != suffix.strip("_"):
                target = f"{provider}_{name[: -len(suffix)]}"
                if target in types:
                    rule: dict[str, Any] = {"property": name, "targets": [target]}
                    if is_list:
                        rule["list"] = True
                    rules.append(rule)
    return rules


def provider_name(address: str) -> str:
    """``registry.terraform.io/hashicorp/aws`` -> ``aws``."""
    return address.rstrip("/").split("/")[-1]


def docs_from_provider_schema(
    schema: dict[str, Any], versions: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """One catalog document per provider in the schema output."""
    if not isinstance(schema, dict) or not isinstance(schema.get("provider_schemas"), dict):
        raise ValueError("not the output of `terraform providers schema -json` (no provider_schemas)")
    docs = []
    for address, pschema in sorted(schema["provider_schemas"].items()):
        name = provider_name(address)
        parts = address.split("/")
        source = "/".join(parts[-2:]) if address.startswith("registry.terraform.io/") else address
        resources = pschema.get("resource_schemas") or {}
        data_sources = pschema.get("data_source_schemas") or {}
        types = set(resources)
        doc: dict[str, Any] = {"provider": name, "source": source, "resources": {}, "data_sources": {}}
        if versions and name in versions:
            doc["version"] = versions[name]
        for kind, entries in (("resources", resources), ("data_sources", data_sources)):
            for tname, tschema in sorted(entries.items()):
                if not IDENTIFIER.match(tname):
                    continue
                block = tschema.get("block") or {}
                props, computed = _block(block)
                entry: dict[str, Any] = {
                    "description": str(block.get("description") or "")[:500],
                    "complete": True,
                    "properties": props,
                    "attributes": computed,
                    "references": _guess_rules(name, props, types) if kind == "resources" else [],
                }
                doc[kind][tname] = entry
        docs.append(doc)
    return docs
