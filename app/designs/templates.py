"""Templates: the seeded public catalogue, organization templates published from a design
version, cached reads, and instantiation into a new design."""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path
from typing import Any

import msgspec

from app.accounts.authz import Principal, access_for_org, org_ids_with
from app.db import on_unique_violation, transaction
from app.designs import designs as design_service
from app.designs.access import design_access
from app.designs.cache import BodyCache, template_key
from app.designs.schemas import (
    TemplateBody,
    TemplateInstantiate,
    TemplatePage,
    TemplatePublish,
    TemplateSeed,
    TemplateSummary,
)
from app.designs.tables import DesignVersion, Template
from app.designs.versions import CachedBody, PreparedCanvas, prepare_canvas
from app.events import audit
from app.lib.clock import utcnow
from app.lib.errors import AppError, Conflict, FieldError, Forbidden, ValidationFailed, not_found
from app.lib.pagination import Keyset

log = logging.getLogger("board3.designs.templates")

SEED_DIR = Path(__file__).resolve().parents[2] / "seeds" / "templates"
TAG_SCAN_BATCH = 200

SUMMARY_COLUMNS = (
    Template.id,
    Template.slug,
    Template.name,
    Template.description,
    Template.cloud_provider,
    Template.tags,
    Template.public,
    Template.organization,
    Template.organization.slug,
    Template.node_count,
    Template.created_at,
    Template.updated_at,
    Template.revision,
)


def seed_id(slug: str) -> uuid.UUID:
    """Stable id of a seeded template, so seeding is idempotent across databases."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"https://board3.dev/templates/{slug}")


def _summary(row: dict[str, Any]) -> TemplateSummary:
    return TemplateSummary(
        id=row["id"],
        slug=row["slug"],
        name=row["name"],
        description=row["description"],
        cloud_provider=row["cloud_provider"],
        tags=list(row["tags"] or []),
        public=row["public"],
        organization=row["organization.slug"],
        node_count=row["node_count"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def _visible(principal: Principal, template_ref: str) -> dict[str, Any]:
    """The template by id (or public slug) if the caller may see it; else 404."""
    where: Any
    try:
        where = Template.id == uuid.UUID(template_ref)
    except ValueError:
        where = (Template.slug == template_ref) & Template.organization.is_null()
    row = await Template.select(*SUMMARY_COLUMNS).where(where).first().output(load_json=True)
    if row is None:
        raise not_found("template")
    if row["public"] or row["organization"] is None:
        return row
    if row["organization"] not in await org_ids_with(principal, "design:read"):
        raise not_found("template")
    return row


async def list_templates(
    principal: Principal,
    *,
    provider: str | None,
    tag: str | None,
    organization: str | None,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> TemplatePage:
    """Public templates plus those of the caller's organizations, by name."""
    orgs = await org_ids_with(principal, "design:read")
    visible: Any = Template.public.eq(True)
    if orgs:
        visible |= Template.organization.is_in(orgs)
    query = Template.select(*SUMMARY_COLUMNS).where(visible)
    if provider:
        query = query.where(Template.cloud_provider == provider)
    if organization:
        query = query.where(Template.organization.slug == organization)
    if q:
        query = query.where(design_service.name_contains(Template.name, q))
    keyset = Keyset(Template.name, Template.id, descending=False)
    if not tag:
        rows = await keyset.apply(query, cursor, limit).output(load_json=True)
    else:  # tags are a small JSON list: filter here rather than with engine-specific JSON SQL
        rows = []
        while len(rows) <= limit:  # one match past the page says whether there is a next page
            fetched = await keyset.apply(query, cursor, TAG_SCAN_BATCH).output(load_json=True)
            batch, cursor = keyset.page(fetched, TAG_SCAN_BATCH)  # without the look-ahead row
            rows += [r for r in batch if tag in (r["tags"] or [])]
            if cursor is None:
                break
    page, next_cursor = keyset.page(rows[: limit + 1], limit)
    return TemplatePage(items=[_summary(r) for r in page], next_cursor=next_cursor)


async def read_template(principal: Principal, cache: BodyCache, template_ref: str) -> bytes:
    """One template with its canvas (visibility checked first, then the cached body)."""
    row = await _visible(principal, template_ref)
    key = template_key(row["id"], row["revision"])
    body = await cache.get(key)
    if body is None:
        canvas = await Template.select(Template.canvas).where(Template.id == row["id"]).first()
        if canvas is None:
            raise not_found("template")
        summary = _summary(row)
        body = msgspec.json.encode(
            TemplateBody(**msgspec.structs.asdict(summary), canvas=msgspec.Raw(bytes(canvas["canvas"])))
        )
        await cache.set(key, body)
    return body


async def publish_template(principal: Principal, slug: str, data: TemplatePublish) -> TemplateSummary:
    """Publish a version of one of the organization's designs as a template."""
    access = await access_for_org(principal, slug=slug, permission="design:write")
    if data.public:
        access.require("org:admin")
    design = await design_access(principal, data.design_id, "read")
    if design.organization_id != access.organization_id:
        raise ValidationFailed(
            "the design belongs to another organization",
            errors=[FieldError("design_id", "not in this organization")],
        )
    number = design.current_version if data.version is None else data.version
    if number < 1 or number > design.current_version:
        raise ValidationFailed("no such version", errors=[FieldError("version", "no such version")])
    version = (
        await DesignVersion.select(
            DesignVersion.canvas,
            DesignVersion.content_hash,
            DesignVersion.node_count,
            DesignVersion.design.cloud_provider,
        )
        .where((DesignVersion.design == data.design_id) & (DesignVersion.number == number))
        .first()
    )
    if version is None:
        raise not_found("version")
    now = utcnow()
    name = data.name.strip() or data.name
    template = Template(
        organization=access.organization_id,
        slug=data.slug or _slugify(name),
        name=name,
        description=data.description,
        cloud_provider=version["design.cloud_provider"],
        tags=sorted(set(data.tags)),
        public=data.public,
        canvas=bytes(version["canvas"]),
        content_hash=version["content_hash"],
        node_count=version["node_count"],
        source_design=data.design_id,
        source_version=number,
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
        revision=1,
    )
    with on_unique_violation(
        Conflict(
            "the organization has a template with this slug", errors=[FieldError("slug", "already taken")]
        )
    ):
        async with transaction():
            await Template.insert(template)
            await audit.record(
                principal,
                "template.publish",
                organization_id=access.organization_id,
                object_type="template",
                object_id=template.id,
                details={"slug": template.slug, "design_id": str(data.design_id), "version": number},
            )
    row = (
        await Template.select(*SUMMARY_COLUMNS)
        .where(Template.id == template.id)
        .first()
        .output(load_json=True)
    )
    return _summary(row)


async def delete_template(principal: Principal, cache: BodyCache, template_id: uuid.UUID) -> None:
    """Remove an organization's template (design:write there); the seeded catalogue is read-only."""
    row = await _visible(principal, str(template_id))
    if row["organization"] is None:
        raise Forbidden("built-in templates cannot be deleted")
    try:
        access = await access_for_org(principal, org_id=row["organization"], permission="design:write")
    except AppError:
        raise Forbidden("only the publishing organization can delete this template") from None
    async with transaction():
        await Template.delete().where(Template.id == template_id)
        await audit.record(
            principal,
            "template.delete",
            organization_id=access.organization_id,
            object_type="template",
            object_id=template_id,
            details={"slug": row["slug"]},
        )
    await cache.delete(template_key(template_id, row["revision"]))


async def instantiate(
    principal: Principal, cache: BodyCache, template_ref: str, data: TemplateInstantiate
) -> CachedBody:
    """A new design in ``data.organization`` whose version 1 is the template's canvas."""
    row = await _visible(principal, template_ref)
    access = await access_for_org(principal, slug=data.organization, permission="design:write")
    stored = await Template.select(Template.canvas).where(Template.id == row["id"]).first()
    if stored is None:
        raise not_found("template")
    prepared = PreparedCanvas.stored(bytes(stored["canvas"]))
    design_id = await design_service.create_in_org(
        principal,
        access,
        name=data.name,
        description=row["description"] if data.description is None else data.description,
        cloud_provider=row["cloud_provider"],
        status="draft",
        prepared=prepared,
        message=f"From template {row['slug']}",
        template_id=row["id"],
    )
    return await design_service.fresh_body(cache, design_id)


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:90].strip("-")
    return slug if len(slug) >= 2 else f"template-{uuid.uuid4().hex[:8]}"


# --- seeding --------------------------------------------------------------------------------------


def read_seed_templates(seed_dir: Path = SEED_DIR) -> list[tuple[TemplateSeed, PreparedCanvas]]:
    """Decode and structurally check every ``seeds/templates/*.json`` (raises naming the file)."""
    out = []
    for path in sorted(seed_dir.glob("*.json")):
        try:
            seed = msgspec.json.decode(path.read_bytes(), type=TemplateSeed)
            prepared = prepare_canvas(seed.canvas)
        except (msgspec.DecodeError, msgspec.ValidationError, ValidationFailed) as exc:
            raise ValueError(f"{path}: {exc}") from None
        out.append((seed, prepared))
    return out


async def seed() -> None:
    """Insert or update the built-in public templates (idempotent: stable ids, content hashes)."""
    seeds = read_seed_templates()  # read and check the files before taking the write lock
    if not seeds:
        return
    now = utcnow()
    compared = (
        Template.content_hash,
        Template.name,
        Template.description,
        Template.cloud_provider,
        Template.tags,
        Template.public,
    )
    async with transaction():
        stored = {
            row["id"]: row
            for row in await Template.select(Template.id, *compared)
            .where(Template.id.is_in([seed_id(t.slug) for t, _ in seeds]))
            .output(load_json=True)
        }
        for template, prepared in seeds:
            tid = seed_id(template.slug)
            values: dict[Any, Any] = {
                Template.slug: template.slug,
                Template.name: template.name,
                Template.description: template.description,
                Template.cloud_provider: template.cloud_provider,
                Template.tags: sorted(set(template.tags)),
                Template.public: True,
                Template.canvas: prepared.data,
                Template.content_hash: prepared.content_hash,
                Template.node_count: len(prepared.canvas.nodes),
            }
            existing = stored.get(tid)
            if existing is None:
                fields = {col._meta.name: value for col, value in values.items()}
                await Template.insert(
                    Template(id=tid, organization=None, created_at=now, updated_at=now, **fields)
                )
                log.info("template seeded", extra={"slug": template.slug})
            elif any(existing[col._meta.name] != values[col] for col in compared):
                await Template.update(
                    {**values, Template.updated_at: now, Template.revision: Template.revision + 1}
                ).where(Template.id == tid)
                log.info("template updated", extra={"slug": template.slug})
