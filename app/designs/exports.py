"""Validate, export and draw stored design versions: the services behind the design routes.

Each call checks the caller's read access to the design first (members with ``design:read`` and
users the design is shared with; another tenant's design is 404), then runs the pure cores in a
worker thread, since a 20k-node design takes seconds and must not stall the event loop.
Output is deterministic (same version, same bytes); the entity tag is a hash of those bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import msgspec

from app.accounts.authz import Principal
from app.designs.access import design_access
from app.designs.cache import etag_matches
from app.designs.tables import Design
from app.designs.terraform_schemas import DesignValidation, TerraformFiles, ValidateRequest
from app.designs.versions import canvas_limits, load_canvas, prepare_canvas
from app.lib.errors import BadRequest, FieldError, not_found
from app.terraform.bundle import build_bundle
from app.terraform.canvas import Canvas, CanvasLimits
from app.terraform.catalog import Catalog, get_catalog
from app.terraform.codegen_hcl import generate_hcl
from app.terraform.codegen_json import generate_json
from app.terraform.diagram import render_svg
from app.terraform.results import ValidationResult
from app.terraform.validate import validate

ExportFormat = Literal["json", "hcl", "zip"]
JSON = "application/json"
ZIP = "application/zip"
SVG = "image/svg+xml"
MAX_HIGHLIGHT = 20_000

# How a diagram learns a drift check's marks: (caller, design id, "latest" or a check id) -> canvas
# node id -> "changed" | "deleted". Drift checks live in a domain above designs, which provides it.
DriftMarks = Callable[[Principal, uuid.UUID, str], Awaitable[Mapping[str, str]]]
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Rendered:
    """A generated representation; ``body`` is None when the client's ``If-None-Match`` is current."""

    body: bytes | None
    media_type: str
    etag: str
    version: int
    filename: str | None = None
    attachment: bool = False


def state_name(design_id: uuid.UUID) -> str:
    """The state a design's exported ``backend.tf`` points at: ``design-<design id>``.

    Derived from the id alone, so it survives renames and is the same in every export.
    """
    return f"design-{design_id}"


def body_etag(body: bytes) -> str:
    """A strong entity tag of the bytes themselves (correct across catalog and code upgrades)."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _rendered(
    body: bytes,
    media_type: str,
    version: int,
    if_none_match: str | None,
    filename: str | None = None,
    attachment: bool = False,
) -> Rendered:
    tag = body_etag(body)
    if etag_matches(if_none_match, tag):
        return Rendered(None, media_type, tag, version, filename, attachment)
    return Rendered(body, media_type, tag, version, filename, attachment)


async def validate_design(
    principal: Principal, design_id: uuid.UUID, version: int | None, data: ValidateRequest | None
) -> DesignValidation:
    """Problems of a stored version (default: current) or of an unsaved canvas sent in the body.

    An unsaved canvas is first checked like a save (413 beyond the limits, 422 when malformed), so
    what validates here can be saved; problem edge indexes refer to the canvas as sent.
    """
    catalog, limits = get_catalog(), canvas_limits()
    if data is not None:
        await design_access(principal, design_id, "read")
        if version is not None:
            raise BadRequest(
                "give either a canvas in the body or a version, not both",
                errors=[FieldError("query.version", "not allowed with a canvas in the body")],
            )
        number, result = None, await asyncio.to_thread(_validate_unsaved, data.canvas, catalog, limits)
    else:
        number, canvas = await load_canvas(principal, design_id, version)
        result = await asyncio.to_thread(validate, canvas, catalog, limits)
    return DesignValidation(valid=result.valid, problems=result.problems, design_id=design_id, version=number)


def _validate_unsaved(canvas: Canvas, catalog: Catalog, limits: CanvasLimits) -> ValidationResult:
    prepare_canvas(canvas)  # 413/422 exactly as saving it would be
    return validate(canvas, catalog, limits)


def backend_base_url(public_url: str | None, request_base_url: str) -> str:
    """The server address the zip's ``backend.tf`` points at.

    ``BOARD3_PUBLIC_URL`` when it is set (a proxy may rewrite the Host header, so the address a request
    arrived at is not necessarily the one Terraform can reach), else the request's base URL.
    """
    return (public_url or request_base_url).rstrip("/")


def _generate(canvas: Canvas, fmt: ExportFormat, version: int, base_url: str, org: str, state: str) -> bytes:
    catalog, limits = get_catalog(), canvas_limits()
    if fmt == "json":
        return generate_json(canvas, catalog, limits)
    if fmt == "hcl":
        files = generate_hcl(canvas, catalog, limits)
        return msgspec.json.encode(TerraformFiles(version=version, files=files))
    return build_bundle(canvas, catalog, base_url=base_url, org=org, state=state, limits=limits)


async def export_terraform(
    principal: Principal,
    design_id: uuid.UUID,
    fmt: ExportFormat,
    version: int | None,
    base_url: str,
    if_none_match: str | None = None,
) -> Rendered:
    """Terraform for a design version; validation runs first (422 ``design-invalid`` with every problem).

    ``json``: ``main.tf.json``. ``hcl``: the ``.tf`` files as a JSON object. ``zip``: the files, the
    bundled modules the design uses and a ``backend.tf`` for this design's state at ``base_url``.
    """
    number, canvas = await load_canvas(principal, design_id, version)  # checks read access
    org, stem = await _org_and_file_stem(design_id) if fmt == "zip" else ("", "")
    state = state_name(design_id)
    body = await asyncio.to_thread(_generate, canvas, fmt, number, base_url, org, state)
    if fmt == "json":
        return _rendered(body, JSON, number, if_none_match, "main.tf.json")
    if fmt == "hcl":
        return _rendered(body, JSON, number, if_none_match)
    return _rendered(body, ZIP, number, if_none_match, f"{stem}-v{number}.zip", attachment=True)


async def _org_and_file_stem(design_id: uuid.UUID) -> tuple[str, str]:
    """The design's organization slug (for ``backend.tf``) and its name reduced to characters every
    file system and header accepts (for the zip's file name)."""
    row = (
        await Design.select(Design.name, Design.organization.slug)
        .where((Design.id == design_id) & Design.deleted_at.is_null())
        .first()
    )
    if row is None:  # deleted since load_canvas read it
        raise not_found("design")
    stem = _UNSAFE_FILENAME.sub("-", str(row["name"])).strip("-.")[:80]
    return str(row["organization.slug"]), stem or "design"


def highlight_ids(values: Iterable[str], node_ids: set[str]) -> set[str]:
    """Node ids to highlight from ``highlight`` parameters (comma-separated; ids not in the canvas
    are ignored). A value that is exactly a node id counts whole, so ids with commas still work."""
    wanted: set[str] = set()
    for value in values:
        for candidate in (value, *value.split(",")):
            candidate = candidate.strip()
            if candidate in node_ids:
                wanted.add(candidate)
        if len(wanted) >= MAX_HIGHLIGHT:
            break
    return wanted


async def diagram(
    principal: Principal,
    design_id: uuid.UUID,
    version: int | None,
    highlight: Iterable[str] = (),
    if_none_match: str | None = None,
    drift: str | None = None,
    drift_marks: DriftMarks | None = None,
) -> Rendered:
    """The SVG diagram of a version; drawn for invalid designs too (it is how you find the problem).
    With ``drift`` (a check id or ``latest``), the nodes that check found drifted are marked."""
    number, canvas = await load_canvas(principal, design_id, version)
    wanted = highlight_ids(highlight, {n.id for n in canvas.nodes})
    marks = None
    if drift is not None and drift_marks is not None:
        ids = {n.id for n in canvas.nodes}
        marks = {k: v for k, v in (await drift_marks(principal, design_id, drift)).items() if k in ids}
    svg = await asyncio.to_thread(render_svg, canvas, get_catalog(), wanted, marks)
    return _rendered(svg.encode(), SVG, number, if_none_match, "diagram.svg")
