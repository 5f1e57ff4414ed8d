"""Immutable design versions: save (race-free numbering), list, read, restore, diff.

A save is one transaction: a conditional ``UPDATE designs SET current_version = base + 1 ...
WHERE current_version = base`` decides the race (the loser's update matches no row and gets 409
with the winner's number), the version row is inserted under a unique (design, number) index as a
second guard, the ``resources`` rows follow the new canvas, and the audit row is written.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec

from app.accounts.authz import Principal
from app.config import get_settings
from app.db import transaction
from app.designs import diff as graph_diff
from app.designs.access import DesignAccess, design_access, design_access_changed
from app.designs.cache import BodyCache, design_key, etag, etag_matches, version_key
from app.designs.events import DesignEvents
from app.designs.schemas import (
    DiffRead,
    DiffSummary,
    RestoreRequest,
    VersionBody,
    VersionCreate,
    VersionPage,
    VersionSummary,
)
from app.designs.tables import Design, DesignVersion, Resource
from app.events import audit
from app.lib.clock import utcnow
from app.lib.errors import Conflict, FieldError, PayloadTooLarge, ValidationFailed, not_found
from app.lib.pagination import Keyset
from app.terraform.canvas import (
    Canvas,
    CanvasLimits,
    Node,
    canonical,
    canonical_bytes,
    check_structure,
    decode_canvas,
)
from app.terraform.catalog import get_catalog
from app.terraform.catalog_types import CatalogError

EMPTY_CANVAS = canonical_bytes(Canvas())
INSERT_CHUNK = 500


@dataclass(frozen=True, slots=True)
class PreparedCanvas:
    """A structurally valid canvas in canonical form, its bytes and their sha256."""

    canvas: Canvas
    data: bytes
    content_hash: str

    @classmethod
    def stored(cls, data: bytes) -> PreparedCanvas:
        """A canvas read back from a version or a template: checked and canonical when stored."""
        return cls(decode_canvas(data), data, hashlib.sha256(data).hexdigest())


@dataclass(frozen=True, slots=True)
class CachedBody:
    """A response body (``None`` for 304 Not Modified) and its entity tag."""

    body: bytes | None
    etag: str


def canvas_limits() -> CanvasLimits:
    limits = get_settings().limits
    return CanvasLimits(max_nodes=limits.max_nodes, max_edges=limits.max_edges)


def prepare_canvas(canvas: Canvas, prefix: str = "canvas") -> PreparedCanvas:
    """Check structure and limits (413 for too many nodes or edges, 422 naming the element)."""
    limits = canvas_limits()
    too_many = []
    if len(canvas.nodes) > limits.max_nodes:
        too_many.append(
            FieldError(f"{prefix}.nodes", f"at most {limits.max_nodes} nodes (BOARD3_MAX_NODES raises it)")
        )
    if len(canvas.edges) > limits.max_edges:
        too_many.append(
            FieldError(f"{prefix}.edges", f"at most {limits.max_edges} edges (BOARD3_MAX_EDGES raises it)")
        )
    if too_many:
        raise PayloadTooLarge(
            f"the canvas has {len(canvas.nodes)} nodes and {len(canvas.edges)} edges, more than the limits "
            f"of {limits.max_nodes} nodes and {limits.max_edges} edges (the server's BOARD3_MAX_NODES and "
            "BOARD3_MAX_EDGES raise them)",
            errors=too_many,
            extra={"max_nodes": limits.max_nodes, "max_edges": limits.max_edges},
        )
    problems = check_structure(canvas, limits, prefix)
    if problems:
        raise ValidationFailed(
            f"the canvas is malformed ({len(problems)} problem(s))",
            errors=[FieldError(p.field, p.message) for p in problems],
            code="invalid-canvas",
        )
    canon = canonical(canvas)
    data = canonical_bytes(canon)
    return PreparedCanvas(canon, data, hashlib.sha256(data).hexdigest())


def provider_of(node_type: str) -> str:
    """The provider of a node type: from the resource catalog, else from the type's prefix."""
    try:
        known = get_catalog().get(node_type)
    except (CatalogError, OSError):  # a broken or unreadable catalog must not block saving designs
        known = None
    if known is not None:
        return known.provider
    if node_type in ("variable", "output") or node_type.startswith("module."):
        return ""
    prefix, sep, _ = node_type.removeprefix("data.").partition("_")
    return prefix[:64] if sep else ""


def _node_hash(node: Node) -> str:
    return hashlib.sha256(msgspec.json.encode(node, order="sorted")).hexdigest()[:32]


async def sync_resources(organization_id: uuid.UUID, design_id: uuid.UUID, canvas: Canvas) -> None:
    """Make ``resources`` hold exactly the canvas's nodes (touching only the nodes that changed)."""
    existing = {
        r["node_id"]: r["node_hash"]
        for r in await Resource.select(Resource.node_id, Resource.node_hash).where(
            Resource.design == design_id
        )
    }
    wanted = {n.id: (_node_hash(n), n) for n in canvas.nodes}
    stale = [nid for nid, h in existing.items() if nid not in wanted or wanted[nid][0] != h]
    fresh = [(h, n) for nid, (h, n) in wanted.items() if existing.get(nid) != h]
    for i in range(0, len(stale), INSERT_CHUNK):
        chunk = stale[i : i + INSERT_CHUNK]
        await Resource.delete().where((Resource.design == design_id) & Resource.node_id.is_in(chunk))
    now = utcnow()
    rows = [
        Resource(
            organization=organization_id,
            design=design_id,
            node_id=n.id,
            type=n.type,
            provider=provider_of(n.type),
            name=n.name,
            properties=n.properties,
            node_hash=h,
            updated_at=now,
        )
        for h, n in fresh
    ]
    for i in range(0, len(rows), INSERT_CHUNK):
        await Resource.insert(*rows[i : i + INSERT_CHUNK])


async def insert_version(
    principal: Principal,
    organization_id: uuid.UUID,
    design_id: uuid.UUID,
    number: int,
    prepared: PreparedCanvas,
    message: str,
    restored_from: int | None = None,
) -> VersionSummary:
    """Insert version ``number`` and move ``resources`` (call inside the transaction)."""
    now = utcnow()
    version = DesignVersion(
        organization=organization_id,
        design=design_id,
        number=number,
        message=message,
        author_id=principal.user_id,
        author_label=principal.label[:320],
        created_at=now,
        content_hash=prepared.content_hash,
        canvas=prepared.data,
        node_count=len(prepared.canvas.nodes),
        edge_count=len(prepared.canvas.edges),
        size_bytes=len(prepared.data),
        restored_from=restored_from,
    )
    await DesignVersion.insert(version)
    await sync_resources(organization_id, design_id, prepared.canvas)
    return _summary(design_id, version.to_dict())


def _summary(design_id: uuid.UUID, row: dict[str, Any]) -> VersionSummary:
    return VersionSummary(
        design_id=design_id,
        number=row["number"],
        message=row["message"],
        author_id=row["author_id"],
        author=row["author_label"],
        created_at=row["created_at"],
        content_hash=row["content_hash"],
        node_count=row["node_count"],
        edge_count=row["edge_count"],
        size_bytes=row["size_bytes"],
        restored_from=row["restored_from"],
    )


SUMMARY_COLUMNS = (
    DesignVersion.number,
    DesignVersion.message,
    DesignVersion.author_id,
    DesignVersion.author_label,
    DesignVersion.created_at,
    DesignVersion.content_hash,
    DesignVersion.node_count,
    DesignVersion.edge_count,
    DesignVersion.size_bytes,
    DesignVersion.restored_from,
)


async def _version_summary(design_id: uuid.UUID, number: int) -> VersionSummary:
    row = (
        await DesignVersion.select(*SUMMARY_COLUMNS)
        .where((DesignVersion.design == design_id) & (DesignVersion.number == number))
        .first()
    )
    if row is None:
        raise not_found("version")
    return _summary(design_id, row)


async def commit_version(
    access: DesignAccess,
    base_version: int,
    prepared: PreparedCanvas,
    message: str,
    restored_from: int | None = None,
) -> tuple[VersionSummary, bool]:
    """Append a version on top of ``base_version``; ``(current version, False)`` if nothing changed.

    Call inside ``transaction()``. Raises Conflict (409, ``current_version``) when the base is stale.
    """
    design_id, now = access.design_id, utcnow()
    moved = (
        await Design.update(
            {
                Design.current_version: base_version + 1,
                Design.current_hash: prepared.content_hash,
                Design.revision: Design.revision + 1,
                Design.updated_at: now,
            }
        )
        .where(
            (Design.id == design_id)
            & (Design.current_version == base_version)
            & (Design.current_hash != prepared.content_hash)
            & Design.deleted_at.is_null()
        )
        .returning(Design.revision)
    )
    if not moved:
        current = (
            await Design.select(Design.current_version, Design.current_hash)
            .where((Design.id == design_id) & Design.deleted_at.is_null())
            .first()
        )
        if current is None:
            raise not_found("design")
        if current["current_version"] > 0 and current["current_hash"] == prepared.content_hash:
            return await _version_summary(design_id, current["current_version"]), False
        raise Conflict(
            f"version {base_version} is not the current version ({current['current_version']}); "
            "fetch the design, merge and save again",
            errors=[FieldError("base_version", "stale")],
            extra={"current_version": current["current_version"]},
            code="version-conflict",
        )
    await design_access_changed(design_id)
    number = base_version + 1
    summary = await insert_version(
        access.principal, access.organization_id, design_id, number, prepared, message, restored_from
    )
    await audit.record(
        access.principal,
        "design.version.restore" if restored_from is not None else "design.version.create",
        organization_id=access.organization_id,
        object_type="design",
        object_id=design_id,
        details={"version": number, "content_hash": prepared.content_hash, "restored_from": restored_from},
    )
    return summary, True


async def _after_version(
    access: DesignAccess, cache: BodyCache, events: DesignEvents, summary: VersionSummary
) -> None:
    await cache.delete(design_key(access.design_id, access.revision))
    events.publish(
        access.design_id,
        "version.created",
        access.principal,
        {
            "version": summary.number,
            "content_hash": summary.content_hash,
            "restored_from": summary.restored_from,
        },
    )


async def save_version(
    principal: Principal, cache: BodyCache, events: DesignEvents, design_id: uuid.UUID, data: VersionCreate
) -> tuple[VersionSummary, bool]:
    """Save a canvas as a new version (``created`` False: identical to the current one)."""
    access = await design_access(principal, design_id, "write")
    prepared = prepare_canvas(data.canvas)
    async with transaction():
        summary, created = await commit_version(access, data.base_version, prepared, data.message)
    if created:
        await _after_version(access, cache, events, summary)
    return summary, created


async def restore_version(
    principal: Principal,
    cache: BodyCache,
    events: DesignEvents,
    design_id: uuid.UUID,
    number: int,
    data: RestoreRequest | None,
) -> tuple[VersionSummary, bool]:
    """A new version with the canvas of version ``number`` (200 if it already is the current one)."""
    access = await design_access(principal, design_id, "write")
    canvas_bytes = await _canvas_bytes(access, number)
    base = access.current_version if data is None or data.base_version is None else data.base_version
    message = (data.message if data is not None else None) or f"Restore version {number}"
    prepared = PreparedCanvas.stored(canvas_bytes)
    async with transaction():
        summary, created = await commit_version(access, base, prepared, message, restored_from=number)
    if created:
        await _after_version(access, cache, events, summary)
    return summary, created


async def list_versions(
    principal: Principal, design_id: uuid.UUID, cursor: str | None, limit: int
) -> VersionPage:
    await design_access(principal, design_id, "read")
    keyset = Keyset(DesignVersion.number, DesignVersion.id)
    query = DesignVersion.select(*SUMMARY_COLUMNS, DesignVersion.id).where(DesignVersion.design == design_id)
    rows = await keyset.apply(query, cursor, limit)
    page, next_cursor = keyset.page(rows, limit)
    return VersionPage(items=[_summary(design_id, r) for r in page], next_cursor=next_cursor)


def _version_exists(access: DesignAccess, number: int) -> None:
    if number < 1 or number > access.current_version:
        raise not_found("version")


async def _canvas_bytes(access: DesignAccess, number: int) -> bytes:
    if number == 0:
        return EMPTY_CANVAS
    _version_exists(access, number)
    row = (
        await DesignVersion.select(DesignVersion.canvas)
        .where((DesignVersion.design == access.design_id) & (DesignVersion.number == number))
        .first()
    )
    if row is None:
        raise not_found("version")
    return bytes(row["canvas"])


async def read_version(
    principal: Principal, cache: BodyCache, design_id: uuid.UUID, number: int, if_none_match: str | None
) -> CachedBody:
    """One version with its canvas; versions never change, so a cached body is always current."""
    access = await design_access(principal, design_id, "read")
    _version_exists(access, number)
    tag = etag(f"v{number}", design_id.hex[:12])
    if etag_matches(if_none_match, tag):
        return CachedBody(None, tag)
    key = version_key(design_id, number)
    body = await cache.get(key)
    if body is None:
        row = (
            await DesignVersion.select(*SUMMARY_COLUMNS, DesignVersion.canvas)
            .where((DesignVersion.design == design_id) & (DesignVersion.number == number))
            .first()
        )
        if row is None:
            raise not_found("version")
        summary = _summary(design_id, row)
        body = msgspec.json.encode(
            VersionBody(**msgspec.structs.asdict(summary), canvas=msgspec.Raw(bytes(row["canvas"])))
        )
        await cache.set(key, body)
    return CachedBody(body, tag)


async def load_canvas(
    principal: Principal, design_id: uuid.UUID, number: int | None = None
) -> tuple[int, Canvas]:
    """The canvas of version ``number`` (default: current) for other domains (codegen, pipelines)."""
    access = await design_access(principal, design_id, "read")
    wanted = access.current_version if number is None else number
    return wanted, decode_canvas(await _canvas_bytes(access, wanted))


async def diff_versions(principal: Principal, design_id: uuid.UUID, from_: int, to: int) -> DiffRead:
    """The graph diff between two versions (version 0 is the empty canvas)."""
    access = await design_access(principal, design_id, "read")
    missing = [
        (field, number)
        for field, number in (("query.from", from_), ("query.to", to))
        if number < 0 or number > access.current_version
    ]
    if missing:
        raise ValidationFailed(
            f"version {' and '.join(str(n) for _, n in missing)} does not exist "
            f"(current version is {access.current_version})",
            errors=[FieldError(field, "no such version") for field, _ in missing],
        )
    old = decode_canvas(await _canvas_bytes(access, from_))
    new = decode_canvas(await _canvas_bytes(access, to))
    result = graph_diff.diff(old, new)
    return DiffRead(
        design_id=design_id,
        from_version=from_,
        to_version=to,
        nodes_added=result.nodes_added,
        nodes_removed=result.nodes_removed,
        nodes_changed=result.nodes_changed,
        edges_added=result.edges_added,
        edges_removed=result.edges_removed,
        summary=DiffSummary(
            nodes_added=len(result.nodes_added),
            nodes_removed=len(result.nodes_removed),
            nodes_changed=len(result.nodes_changed),
            edges_added=len(result.edges_added),
            edges_removed=len(result.edges_removed),
        ),
    )
