"""Designs: create, list, read (cached, with ETag), update, soft delete; resources across designs."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw

from app.accounts.authz import Access, Principal, access_for_org, scoped
from app.db import on_unique_violation, transaction
from app.designs.access import design_access, design_access_changed
from app.designs.cache import BodyCache, design_key, etag, etag_matches
from app.designs.environments import decode_links
from app.designs.events import DesignEvents
from app.designs.schemas import (
    DesignBody,
    DesignCreate,
    DesignPage,
    DesignSummary,
    DesignUpdate,
    ResourcePage,
    ResourceRead,
)
from app.designs.tables import Design, DesignVersion, Resource
from app.designs.versions import EMPTY_CANVAS, CachedBody, PreparedCanvas, insert_version, prepare_canvas
from app.events import audit
from app.lib.clock import utcnow
from app.lib.errors import Conflict, FieldError, PreconditionFailed, ValidationFailed, not_found
from app.lib.pagination import Keyset


def summary_columns(design: Any = Design) -> tuple[Any, ...]:
    """The columns of a ``DesignSummary``, of ``Design`` or reached through a foreign key to it."""
    return (
        design.id,
        design.organization,
        design.organization.slug,
        design.name,
        design.description,
        design.cloud_provider,
        design.status,
        design.template,
        design.created_by,
        design.created_at,
        design.updated_at,
        design.current_version,
        design.current_hash,
        design.revision,
    )


SUMMARY_COLUMNS = summary_columns()


def summary_from_row(row: dict[str, Any], prefix: str = "") -> DesignSummary:
    """A summary from a row of ``summary_columns()`` (``prefix``: reached through a foreign key)."""
    return DesignSummary(
        id=row[prefix + "id"],
        organization=row[prefix + "organization.slug"],
        organization_id=row[prefix + "organization"],
        name=row[prefix + "name"],
        description=row[prefix + "description"],
        cloud_provider=row[prefix + "cloud_provider"],
        status=row[prefix + "status"],
        template_id=row[prefix + "template"],
        created_by=row[prefix + "created_by"],
        created_at=row[prefix + "created_at"],
        updated_at=row[prefix + "updated_at"],
        current_version=row[prefix + "current_version"],
        content_hash=row[prefix + "current_hash"],
    )


def name_contains(column: Column, text: str) -> WhereRaw:
    """``column`` contains ``text``, case-insensitively, with ``%``, ``_`` and ``\\`` taken literally.

    ``LIKE ... ESCAPE`` on ``lower()`` of both sides means the same on PostgreSQL and SQLite.
    """
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    name = f'"{column._meta.table._meta.tablename}"."{column._meta.db_column_name}"'
    return WhereRaw(f"lower({name}) LIKE lower({{}}) ESCAPE '\\'", pattern)


def design_etag(design_id: uuid.UUID, revision: int) -> str:
    return etag(f"r{revision}", design_id.hex[:12])


def _name_taken() -> Conflict:
    return Conflict(
        "a design with this name exists in the organization",
        errors=[FieldError("name", "already taken")],
        code="name-taken",
    )


def _clean_name(name: str, field: str = "name") -> str:
    name = name.strip()
    if not name:
        raise ValidationFailed("name is blank", errors=[FieldError(field, "must not be blank")])
    return name


async def create_in_org(
    principal: Principal,
    access: Access,
    *,
    name: str,
    description: str,
    cloud_provider: str,
    status: str,
    prepared: PreparedCanvas | None,
    message: str,
    template_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Insert a design (and version 1 when a canvas is given) with its audit row; returns the id."""
    now = utcnow()
    design = Design(
        organization=access.organization_id,
        name=_clean_name(name),
        description=description,
        cloud_provider=cloud_provider,
        status=status,
        template=template_id,
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
        current_version=1 if prepared else 0,
        current_hash=prepared.content_hash if prepared else "",
        revision=1,
    )
    with on_unique_violation(_name_taken()):
        async with transaction():
            await Design.insert(design)
            if prepared is not None:
                await insert_version(
                    principal, access.organization_id, design.id, 1, prepared, message or "Initial version"
                )
            await audit.record(
                principal,
                "design.create",
                organization_id=access.organization_id,
                object_type="design",
                object_id=design.id,
                details={"name": design.name, "template_id": str(template_id) if template_id else None},
            )
    return design.id


async def create_design(principal: Principal, cache: BodyCache, slug: str, data: DesignCreate) -> CachedBody:
    """Create a design (``design:write`` in the organization) and return its body."""
    access = await access_for_org(principal, slug=slug, permission="design:write")
    prepared = prepare_canvas(data.canvas) if data.canvas is not None else None
    design_id = await create_in_org(
        principal,
        access,
        name=data.name,
        description=data.description,
        cloud_provider=data.cloud_provider,
        status=data.status,
        prepared=prepared,
        message=data.message,
    )
    return await fresh_body(cache, design_id)


async def list_designs(
    principal: Principal,
    slug: str,
    *,
    status: str | None,
    provider: str | None,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> DesignPage:
    access = await access_for_org(principal, slug=slug, permission="design:read")
    query = scoped(Design, access, *SUMMARY_COLUMNS).where(Design.deleted_at.is_null())
    if status:
        query = query.where(Design.status == status)
    if provider:
        query = query.where(Design.cloud_provider == provider)
    if q:
        query = query.where(name_contains(Design.name, q))
    keyset = Keyset(Design.created_at, Design.id)
    rows = await keyset.apply(query, cursor, limit)
    page, next_cursor = keyset.page(rows, limit)
    return DesignPage(items=[summary_from_row(r) for r in page], next_cursor=next_cursor)


async def fresh_body(cache: BodyCache, design_id: uuid.UUID) -> CachedBody:
    """Build the design's JSON body from the database and cache it under its revision.

    For a cache miss, and right after a write (whose caller has checked access already).
    """
    row = (
        await Design.select(*SUMMARY_COLUMNS, Design.environments)
        .where((Design.id == design_id) & Design.deleted_at.is_null())
        .first()
    )
    if row is None:
        raise not_found("design")
    canvas = EMPTY_CANVAS
    if row["current_version"] > 0:
        version = (
            await DesignVersion.select(DesignVersion.canvas)
            .where((DesignVersion.design == design_id) & (DesignVersion.number == row["current_version"]))
            .first()
        )
        if version is not None:
            canvas = bytes(version["canvas"])
    summary = summary_from_row(row)
    body = msgspec.json.encode(
        DesignBody(
            **msgspec.structs.asdict(summary),
            canvas=msgspec.Raw(canvas),
            environments=decode_links(row["environments"]),
        )
    )
    await cache.set(design_key(design_id, row["revision"]), body)
    return CachedBody(body, design_etag(design_id, row["revision"]))


async def read_design(
    principal: Principal, cache: BodyCache, design_id: uuid.UUID, if_none_match: str | None = None
) -> CachedBody:
    """The design with its current canvas. Permission first, then the cached body (or 304)."""
    access = await design_access(principal, design_id, "read")
    tag = design_etag(design_id, access.revision)
    if etag_matches(if_none_match, tag):
        return CachedBody(None, tag)
    body = await cache.get(design_key(design_id, access.revision))
    if body is not None:
        return CachedBody(body, tag)
    return await fresh_body(cache, design_id)


async def update_design(
    principal: Principal,
    cache: BodyCache,
    events: DesignEvents,
    design_id: uuid.UUID,
    data: DesignUpdate,
    if_match: str | None = None,
) -> CachedBody:
    """Change metadata. With ``If-Match`` the change applies only to that revision (else 412)."""
    access = await design_access(principal, design_id, "write")
    changes: dict[Any, Any] = {}
    if isinstance(data.name, str):
        changes[Design.name] = _clean_name(data.name)
    if isinstance(data.description, str):
        changes[Design.description] = data.description
    if isinstance(data.cloud_provider, str):
        changes[Design.cloud_provider] = data.cloud_provider
    if isinstance(data.status, str):
        changes[Design.status] = data.status
    changed = {col._meta.name: value for col, value in changes.items()}
    if if_match is not None and not etag_matches(if_match, design_etag(design_id, access.revision)):
        raise PreconditionFailed("the design changed since you read it (If-Match does not match)")
    if changes:
        condition = (Design.id == design_id) & Design.deleted_at.is_null()
        if if_match is not None:
            condition &= Design.revision == access.revision
        with on_unique_violation(_name_taken()):
            async with transaction():
                updated = (
                    await Design.update(
                        {**changes, Design.revision: Design.revision + 1, Design.updated_at: utcnow()}
                    )
                    .where(condition)
                    .returning(Design.revision)
                )
                if not updated:
                    if if_match is None:
                        raise not_found("design")
                    raise PreconditionFailed("the design changed since you read it (If-Match does not match)")
                await design_access_changed(design_id)
                await audit.record(
                    principal,
                    "design.update",
                    organization_id=access.organization_id,
                    object_type="design",
                    object_id=design_id,
                    details=changed,
                )
        await cache.delete(design_key(design_id, access.revision))
        events.publish(design_id, "design.updated", principal, changed)
    return await fresh_body(cache, design_id)


async def delete_design(
    principal: Principal, cache: BodyCache, events: DesignEvents, design_id: uuid.UUID
) -> None:
    """Soft delete: the design, its versions and comments disappear from the API; the name is free."""
    access = await design_access(principal, design_id, "manage")
    now = utcnow()
    async with transaction():
        deleted = (
            await Design.update(
                {Design.deleted_at: now, Design.revision: Design.revision + 1, Design.updated_at: now}
            )
            .where((Design.id == design_id) & Design.deleted_at.is_null())
            .returning(Design.id)
        )
        if not deleted:
            raise not_found("design")
        await design_access_changed(design_id)
        await Resource.delete().where(Resource.design == design_id)
        await audit.record(
            principal,
            "design.delete",
            organization_id=access.organization_id,
            object_type="design",
            object_id=design_id,
        )
    await cache.delete(design_key(design_id, access.revision))
    events.publish(design_id, "design.deleted", principal)


async def list_resources(
    principal: Principal,
    slug: str,
    *,
    type_: str | None,
    provider: str | None,
    design_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> ResourcePage:
    """Nodes of the current versions of the organization's designs, filtered by type or provider."""
    access = await access_for_org(principal, slug=slug, permission="design:read")
    query = scoped(
        Resource,
        access,
        Resource.id,
        Resource.design,
        Resource.design.name,
        Resource.node_id,
        Resource.type,
        Resource.provider,
        Resource.name,
        Resource.properties,
        Resource.updated_at,
    )
    if type_:
        query = query.where(Resource.type == type_)
    if provider:
        query = query.where(Resource.provider == provider)
    if design_id is not None:
        query = query.where(Resource.design == design_id)
    keyset = Keyset(Resource.updated_at, Resource.id)
    rows = await keyset.apply(query, cursor, limit).output(load_json=True)
    page, next_cursor = keyset.page(rows, limit)
    return ResourcePage(
        items=[
            ResourceRead(
                design_id=r["design"],
                design_name=r["design.name"],
                node_id=r["node_id"],
                type=r["type"],
                provider=r["provider"],
                name=r["name"],
                properties=r["properties"] or {},
            )
            for r in page
        ],
        next_cursor=next_cursor,
    )
