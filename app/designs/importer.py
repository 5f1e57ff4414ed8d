"""Import Terraform files or a state file as a new design (version 1 = the imported canvas).

Order: permission (``design:write`` in the organization), cheap size checks, parsing in a worker
thread, the same structural checks and limits as a save, then one transaction that creates the
design (with its ``resources`` rows and ``design.create`` audit row) and records ``design.import``.
Nothing is stored when any step fails.

python-hcl2 needs about 50-250 µs per syntax element, so a 5 MB body of dense HCL could keep a
worker busy for minutes: HCL is refused (413) beyond ``MAX_HCL_COMPLEXITY`` structural
characters (braces, brackets, operators, ``=``, ``,``, ``.``), which bounds a parse to seconds, and
at most ``PARSE_SLOTS`` imports parse at once per process.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from app.accounts.authz import Principal, access_for_org
from app.db import transaction
from app.designs import designs as design_service
from app.designs.cache import BodyCache
from app.designs.schemas import DesignBody
from app.designs.terraform_schemas import DesignImport, DesignImportedBody
from app.designs.versions import PreparedCanvas, canvas_limits, prepare_canvas
from app.events import audit
from app.lib.errors import BadRequest, FieldError, PayloadTooLarge, ValidationFailed
from app.terraform.canvas import Canvas
from app.terraform.canvas_builder import ImportResult
from app.terraform.catalog import Catalog, get_catalog
from app.terraform.hcl_reader import import_files
from app.terraform.state_reader import import_state

MAX_HCL_COMPLEXITY = 60_000
PARSE_SLOTS = 2
TF_SUFFIXES = (".tf", ".tf.json")
_STRUCTURAL = "{}[](),=:?.+-*/%<>!&|"
_PROVIDER = re.compile(r"^[a-z0-9_-]{1,32}$")
_NAMED_FIELD = re.compile(r"(?:unknown|missing required) field `([^`]*)`")
_BLOCK = re.compile(r'^[ \t]*(?:resource|data|module|variable|output)(?:[ \t]+[A-Za-z_"]|")', re.MULTILINE)
_NODE_PATH = re.compile(r"^\.nodes\[(\d+)\]")
_slots: asyncio.Semaphore | None = None


@dataclass(frozen=True, slots=True)
class Imported:
    """The created design's id and the response body (``DesignImported``: the design and warnings)."""

    design_id: uuid.UUID
    body: bytes


def _parse_slots() -> asyncio.Semaphore:
    global _slots
    if _slots is None:
        _slots = asyncio.Semaphore(PARSE_SLOTS)
    return _slots


def hcl_complexity(files: dict[str, str]) -> int:
    """An upper estimate of the importer's work: structural characters of ``.tf`` files; in ``.tf.json``
    files the objects (``{``) plus two per interpolation (each ``${...}`` goes through the HCL parser)."""
    total = 0
    for name, text in files.items():
        if name.endswith(".tf.json"):
            total += text.count("{") + 2 * (text.count("${") + text.count("%{"))
        elif name.endswith(".tf"):
            total += sum(text.count(c) for c in _STRUCTURAL)
    return total


def _msgspec_problem(exc: msgspec.ValidationError) -> FieldError:
    """msgspec's message as a field error (``files.<key>``, ``name``...) like the app's JSON bodies."""
    text = str(exc)
    problem, _, at = text.partition(" - at `")
    path = at.rstrip("`")
    if "` in `$" in path:  # "- at `key` in `$.files`": a dict key
        path = path.partition("` in `$")[2]
    path = path.removeprefix("$").lstrip(".")
    m = _NAMED_FIELD.search(problem)
    if m is not None:
        path = f"{path}.{m.group(1)}" if path else m.group(1)
    return FieldError(path or "body", problem)


def decode_import(document: bytes | dict[str, Any]) -> DesignImport:
    """The import request from a JSON body or from the fields of a multipart form (400/422)."""
    try:
        if isinstance(document, dict):
            return msgspec.convert(document, type=DesignImport)
        if not document.strip():
            raise BadRequest("this endpoint needs a JSON body or a multipart form", code="missing-body")
        return msgspec.json.decode(document, type=DesignImport)
    except msgspec.ValidationError as exc:
        error = _msgspec_problem(exc)
        raise ValidationFailed(f"invalid value for {error.field}", errors=[error]) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"JSON is malformed: {exc}", code="malformed-body") from None


def upload_text(name: str, data: bytes) -> str:
    """An uploaded Terraform file as text (UTF-8, a byte order mark allowed); 422 naming the file."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"{name} is not UTF-8 text",
            errors=[FieldError(f"files.{name}", f"byte {exc.start}: not UTF-8")],
        ) from None


def upload_state(data: bytes) -> dict[str, Any]:
    """An uploaded state file as a JSON object; 422 (field ``state``) when it is not one."""
    try:
        doc = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise ValidationFailed(
            "the state file is not valid JSON", errors=[FieldError("state", str(exc)[:300])]
        ) from None
    if not isinstance(doc, dict):
        raise ValidationFailed(
            "the state file must hold a JSON object", errors=[FieldError("state", "not an object")]
        )
    return doc


def _check_files(files: dict[str, str]) -> list[str]:
    """413 when the files declare more blocks than a design may have nodes, or when the HCL is too
    complex to parse in bounded time; warnings for ignored files."""
    ignored = sorted(name for name in files if not name.endswith(TF_SUFFIXES))
    limit = canvas_limits().max_nodes
    blocks = sum(len(_BLOCK.findall(text)) for name, text in files.items() if name.endswith(".tf"))
    if blocks > limit:
        raise PayloadTooLarge(
            f"the files declare {blocks} blocks; a design has at most {limit} nodes "
            "(the server's BOARD3_MAX_NODES raises it)",
            errors=[
                FieldError("files", f"at most {limit} resources, data sources, modules, variables, outputs")
            ],
            extra={"limit": limit, "setting": "BOARD3_MAX_NODES"},
        )
    complexity = hcl_complexity(files)
    if complexity > MAX_HCL_COMPLEXITY:
        raise PayloadTooLarge(
            f"the Terraform files are too large to import ({complexity} structural characters, "
            f"at most {MAX_HCL_COMPLEXITY}, a fixed limit); import fewer files at a time",
            errors=[FieldError("files", f"at most {MAX_HCL_COMPLEXITY} structural characters in all")],
            extra={"limit": MAX_HCL_COMPLEXITY},
        )
    return [f"{name}: ignored (not a .tf or .tf.json file)" for name in ignored]


def _check_state(state: dict[str, Any]) -> None:
    """413 before any work when the state holds more resource instances than a design may have."""
    limit = canvas_limits().max_nodes
    resources = state.get("resources")
    count = 0
    if isinstance(resources, list):
        for res in resources:
            if isinstance(res, dict) and res.get("mode") == "managed" and not res.get("module"):
                instances = res.get("instances")
                count += len(instances) if isinstance(instances, list) else 0
    if count > limit:
        raise PayloadTooLarge(
            f"the state holds {count} resource instances; a design has at most {limit} nodes "
            "(the server's BOARD3_MAX_NODES raises it)",
            errors=[FieldError("state.resources", f"at most {limit} resource instances")],
            extra={"limit": limit, "setting": "BOARD3_MAX_NODES"},
        )


def _checked(canvas: Canvas) -> PreparedCanvas:
    """The imported canvas must satisfy the same schema, structure and limits as a saved one
    (Terraform allows names longer than a canvas does, for instance); 422/413 otherwise."""
    prepared = prepare_canvas(canvas)
    try:
        msgspec.convert(msgspec.to_builtins(prepared.canvas), type=Canvas)
    except msgspec.ValidationError as exc:
        problem, _, at = str(exc).partition(" - at `$")
        path = at.rstrip("`")
        where = ""
        m = _NODE_PATH.match(path)
        if m is not None:
            node = prepared.canvas.nodes[int(m.group(1))]
            where = f" ({node.type[:60]} {node.name[:60]!r})"
        raise ValidationFailed(
            f"the imported design cannot be stored as a canvas: {problem}{where}",
            errors=[FieldError("canvas" + path, problem + where)],
            code="invalid-canvas",
        ) from None
    return prepared


def _main_provider(canvas: Canvas, catalog: Catalog) -> str:
    """The non-builtin provider most nodes use (ties: alphabetical), or "" when there is none."""
    counts: Counter[str] = Counter()
    for node in canvas.nodes:
        doc = catalog.provider_for(node.type)
        if doc is not None and not doc.builtin and _PROVIDER.match(doc.provider):
            counts[doc.provider] += 1
    if not counts:
        return ""
    return min(counts, key=lambda name: (-counts[name], name))


def _parse(data: DesignImport, catalog: Catalog) -> tuple[ImportResult, PreparedCanvas]:
    if data.files is not None:
        result = import_files(data.files, catalog)
    else:
        assert data.state is not None
        result = import_state(data.state, catalog)
    return result, _checked(result.canvas)


async def import_design(principal: Principal, cache: BodyCache, slug: str, data: DesignImport) -> Imported:
    """Create a design in organization ``slug`` from ``data.files`` or ``data.state`` (exactly one)."""
    access = await access_for_org(principal, slug=slug, permission="design:write")
    if (data.files is None) == (data.state is None):
        raise ValidationFailed(
            "give either Terraform files or a state file",
            errors=[FieldError("files", "exactly one of files and state"), FieldError("state", "or state")],
        )
    source: Literal["files", "state"] = "files" if data.files is not None else "state"
    warnings = _check_files(data.files) if data.files is not None else []
    if data.state is not None:
        _check_state(data.state)
    catalog = get_catalog()
    async with _parse_slots():
        result, prepared = await asyncio.to_thread(_parse, data, catalog)
    warnings += result.warnings
    if data.files is not None:
        read = sorted(n for n in data.files if n.endswith(TF_SUFFIXES))
        message = data.message or f"Imported from {', '.join(read)}"[:2000]
    else:
        message = data.message or "Imported from a Terraform state"
    async with transaction():
        design_id = await design_service.create_in_org(
            principal,
            access,
            name=data.name,
            description=data.description,
            cloud_provider=data.cloud_provider
            if data.cloud_provider is not None
            else _main_provider(prepared.canvas, catalog),
            status=data.status,
            prepared=prepared,
            message=message,
        )
        await audit.record(
            principal,
            "design.import",
            organization_id=access.organization_id,
            object_type="design",
            object_id=design_id,
            details={
                "source": source,
                "files": sorted(data.files)[:50] if data.files is not None else None,
                "nodes": len(prepared.canvas.nodes),
                "edges": len(prepared.canvas.edges),
                "warnings": len(warnings),
            },
        )
    cached = await design_service.read_design(principal, cache, design_id)
    assert cached.body is not None
    design = msgspec.json.decode(cached.body, type=DesignBody)
    body = DesignImportedBody(**msgspec.structs.asdict(design), source=source, warnings=warnings)
    return Imported(design_id, msgspec.json.encode(body))
