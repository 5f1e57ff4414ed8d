"""``GET /api/v1/catalog/resource-types``: the node types a design may use (cached catalog)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, get_args

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import Parameter

from app.lib.errors import BadRequest, FieldError
from app.lib.pagination import Cursor, decode_cursor, encode_cursor, invalid_cursor
from app.terraform.catalog import Catalog, get_catalog
from app.terraform.catalog_types import Kind, PropertySpec
from app.terraform.node_checks import OUTPUT_PROPERTIES, VARIABLE_PROPERTIES
from app.terraform.schemas import PropertyRead, ReferenceRead, ResourceTypePage, ResourceTypeRead

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
KINDS: tuple[str, ...] = get_args(Kind)


def provide_catalog() -> Catalog:
    return get_catalog()


class CatalogController(Controller):
    path = "/api/v1/catalog"
    tags = ["catalog"]
    dependencies = {"catalog": Provide(provide_catalog, sync_to_thread=False)}

    @get(
        "/resource-types",
        summary="List node types",
        description="Resource types, data sources, bundled modules, variables and outputs, ordered by type. "
        "Filter with `provider` (e.g. aws) or `kind`; page with `limit` and `cursor`.",
    )
    async def list_resource_types(
        self,
        catalog: NamedDependency[Catalog],
        provider: Annotated[str | None, Parameter(description="Provider name, e.g. aws")] = None,
        kind: Annotated[
            str | None, Parameter(description="resource, data, module, variable or output")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ResourceTypePage:
        return list_resource_types(catalog, provider=provider, kind=kind, limit=limit, cursor=cursor)


def list_resource_types(
    catalog: Catalog, *, provider: str | None, kind: str | None, limit: int, cursor: str | None
) -> ResourceTypePage:
    if kind is not None and kind not in KINDS:
        raise BadRequest(
            f"unknown kind {kind!r}", errors=[FieldError("query.kind", f"one of: {', '.join(KINDS)}")]
        )
    items = [t for t in all_types(catalog) if (provider is None or t.provider == provider)]
    items = [t for t in items if kind is None or t.kind == kind]
    start = 0
    if cursor is not None:
        values = decode_cursor(cursor)
        after = values[0] if values and isinstance(values[0], str) else None
        if after is None:
            raise invalid_cursor()
        start = next((i for i, t in enumerate(items) if t.type > after), len(items))
    page = items[start : start + limit]
    next_cursor = None
    if start + limit < len(items):
        next_cursor = encode_cursor([page[-1].type])
    return ResourceTypePage(items=page, next_cursor=next_cursor)


@lru_cache(maxsize=1)
def all_types(catalog: Catalog) -> list[ResourceTypeRead]:
    """Every node type as a response Struct, sorted by type (built once per catalog object)."""
    out: list[ResourceTypeRead] = []
    for name, ntype in catalog.types.items():
        doc = catalog.providers[ntype.provider]
        spec = ntype.spec
        out.append(
            ResourceTypeRead(
                type=name,
                kind=ntype.kind,
                provider=ntype.provider,
                source=doc.source,
                version=doc.version or None,
                category=spec.category,
                description=spec.description,
                properties={k: _prop(v) for k, v in spec.properties.items()},
                attributes=dict(spec.attributes),
                references=[
                    ReferenceRead(
                        property=r.property,
                        targets=list(r.targets),
                        attribute=r.attribute,
                        is_list=r.is_list,
                        contains=r.contains,
                    )
                    for r in spec.references
                ],
                example=dict(spec.example),
            )
        )
    for mod in catalog.modules.values():
        out.append(
            ResourceTypeRead(
                type=mod.type,
                kind="module",
                category="module",
                description=mod.description,
                properties={
                    k: PropertyRead(type=v.type, required=v.required, description=v.description)
                    for k, v in mod.inputs.items()
                },
                attributes=dict.fromkeys(mod.outputs, "any"),
            )
        )
    out.append(
        ResourceTypeRead(
            type="variable",
            kind="variable",
            category="variable",
            description="An input variable; the node's name is the variable name.",
            properties=_fixed(VARIABLE_PROPERTIES),
        )
    )
    out.append(
        ResourceTypeRead(
            type="output",
            kind="output",
            category="output",
            description="An output value: a `value` property, or one edge to the node "
            "(attribute = the attribute to show).",
            properties=_fixed(OUTPUT_PROPERTIES),
        )
    )
    out.sort(key=lambda t: t.type)
    return out


def _fixed(props: dict[str, str]) -> dict[str, PropertyRead]:
    return {k: PropertyRead(type=v) for k, v in props.items()}


def _prop(spec: PropertySpec) -> PropertyRead:
    nested: dict[str, Any] | None = {k: _prop(v) for k, v in spec.properties.items()} if spec.block else None
    return PropertyRead(
        type="object" if spec.block else spec.type,
        required=spec.required,
        description=spec.description,
        sensitive=spec.sensitive,
        block=spec.block,
        properties=nested,
    )
