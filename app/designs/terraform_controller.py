"""HTTP routes that turn stored designs into Terraform and back: validate, export, diagram, import.

Thin: decode, call one service in ``exports`` or ``importer``, return. The import route takes a JSON
body or a multipart form on the same path, so it decodes the body itself; its OpenAPI request body
is described by hand (both media types) in ``ImportOperation``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar import Response as HttpResponse
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_304_NOT_MODIFIED

from app.accounts.authz import Principal
from app.designs import exports, importer
from app.designs.access import GENERATION_OPT
from app.designs.controller import DesignDeps, provide_design_deps
from app.designs.exports import ExportFormat, Rendered
from app.designs.terraform_schemas import (
    DesignImported,
    DesignValidation,
    InvalidDesignProblem,
    TerraformFiles,
    ValidateRequest,
)
from app.lib.errors import BadRequest, FieldError, UnsupportedMediaType, ValidationFailed
from app.lib.schema import ProblemDetails as ProblemBody

PROBLEM = "application/problem+json"

VersionParam = Annotated[
    int | None,
    QueryParameter(ge=1, le=2_000_000_000, description="Design version (default: the current one)"),
]
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        max_length=1024,
        description="An ETag from an earlier response: 304 if unchanged",
    ),
]


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(ProblemBody, description=description, media_type=PROBLEM)


NOT_MODIFIED = ResponseSpec(None, description="Not modified: the `If-None-Match` ETag is current")
NOT_FOUND = _problem("No such design or version (or not yours)")
INVALID = ResponseSpec(
    InvalidDesignProblem,
    description="The design has problems (`problems` lists every one, as `validate` does); nothing generated",
    media_type=PROBLEM,
)


def _string(description: str, **kw: Any) -> Schema:
    return Schema(type=OpenAPIType.STRING, description=description, **kw)


_IMPORT_COMMON: dict[str, Schema] = {
    "name": _string("Name of the new design (unique in the organization)", min_length=1, max_length=200),
    "description": _string("Description", max_length=10_000),
    "cloud_provider": _string("Main provider (default: the one most resources use)", max_length=32),
    "status": _string("draft (default), active or archived", enum=["draft", "active", "archived"]),
    "message": _string("Message of version 1", max_length=2000),
}


def _import_body(files: Schema, state: Schema, **kw: Any) -> Schema:
    """The import request: the design's fields plus ``files`` or ``state`` (JSON and form alike)."""
    return Schema(
        type=OpenAPIType.OBJECT,
        required=["name"],
        properties={**_IMPORT_COMMON, "files": files, "state": state},
        **kw,
    )


_IMPORT_JSON = _import_body(
    files=Schema(
        type=OpenAPIType.OBJECT,
        description="File name -> content (.tf and .tf.json; other names are ignored). Not with `state`.",
        additional_properties=Schema(type=OpenAPIType.STRING),
        max_properties=200,
    ),
    state=Schema(
        type=OpenAPIType.OBJECT,
        description="A Terraform state document (format version 4). Not with `files`.",
    ),
    examples=[{"name": "network", "files": {"main.tf": 'resource "aws_vpc" "main" {\n}\n'}}],
)
_IMPORT_FORM = _import_body(
    files=Schema(
        type=OpenAPIType.ARRAY,
        items=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY),
        description="One or more .tf / .tf.json files (any part name other than `state` works too)",
    ),
    state=_string("A terraform.tfstate file. Not with Terraform files.", format=OpenAPIFormat.BINARY),
)


@dataclass
class ImportOperation(Operation):
    """The import operation accepts JSON and multipart bodies; Litestar documents one media type."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="Terraform files or a state file, as JSON or as a multipart upload (5 MB in all)",
            content={
                "application/json": OpenAPIMediaType(schema=_IMPORT_JSON),
                "multipart/form-data": OpenAPIMediaType(schema=_IMPORT_FORM),
            },
        )


@dataclass
class OptionalBodyOperation(Operation):
    """``validate`` works without a body (the stored version); Litestar marks every body required."""

    def __post_init__(self) -> None:
        if isinstance(self.request_body, RequestBody):
            self.request_body.required = False


_TF_JSON_KEYS = ("terraform", "provider", "variable", "locals", "data", "resource", "module", "output")


@dataclass
class ExportOperation(Operation):
    """The export's 200 response is JSON (``main.tf.json`` or the HCL files) or a zip archive."""

    def __post_init__(self) -> None:
        ok = self.responses.get("200") if self.responses else None
        content = getattr(ok, "content", None)
        if ok is None or content is None:
            return
        hcl = content.get("application/json")
        files_schema = hcl.schema if hcl is not None else None
        content["application/json"] = OpenAPIMediaType(
            schema=Schema(
                one_of=[
                    Schema(
                        type=OpenAPIType.OBJECT,
                        description="format=json: main.tf.json, a Terraform JSON configuration",
                        # Only Terraform's top-level block types, so no value matches both schemas.
                        properties={key: Schema(type=OpenAPIType.OBJECT) for key in _TF_JSON_KEYS},
                        additional_properties=False,
                    ),
                    *([files_schema] if files_schema is not None else []),
                ]
            )
        )
        content["application/zip"] = OpenAPIMediaType(
            schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
        )


def _response(result: Rendered) -> HttpResponse[Any]:
    headers = {
        "ETag": result.etag,
        "Cache-Control": "private, no-cache",
        "X-Design-Version": str(result.version),
    }
    if result.body is None:
        return HttpResponse(content=b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    if result.filename is not None:
        kind = "attachment" if result.attachment else "inline"
        headers["Content-Disposition"] = f'{kind}; filename="{result.filename}"'
    if result.media_type == exports.SVG:
        # Opened directly in a browser, an SVG is a document: no scripts, no external loads.
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        headers["X-Content-Type-Options"] = "nosniff"
    return HttpResponse(content=result.body, media_type=result.media_type, headers=headers)


class DesignTerraformController(Controller):
    path = "/api/v1"
    tags = ["terraform"]
    dependencies = {"deps": Provide(provide_design_deps, sync_to_thread=False)}
    opt = GENERATION_OPT  # design routes: the gate reads the design's generation tokens

    @post(
        "/designs/{design_id:uuid}/validate",
        status_code=HTTP_200_OK,
        summary="Validate a design version (or an unsaved canvas)",
        responses={
            400: _problem("Both a canvas and `version` given"),
            404: NOT_FOUND,
            413: _problem("Canvas beyond the limits"),
            422: _problem("Malformed canvas (checked as a save would)"),
        },
        operation_class=OptionalBodyOperation,
    )
    async def validate(
        self,
        principal: NamedDependency[Principal],
        design_id: FromPath[uuid.UUID],
        version: VersionParam = None,
        data: JSONBody[ValidateRequest | None] = None,
    ) -> DesignValidation:
        """Every problem at once, each with a stable `code`, the `node` id or `edge` index, and a message
        (cycles name their path). Without a body: the stored version (`?version=N`, default current).
        With `{"canvas": ...}`: that canvas, unsaved (first checked like a save). Needs read access."""
        return await exports.validate_design(principal, design_id, version, data)

    @get(
        "/designs/{design_id:uuid}/terraform",
        summary="Export a design version as Terraform (main.tf.json, .tf files or a zip bundle)",
        responses={304: NOT_MODIFIED, 404: NOT_FOUND, 422: INVALID},
        operation_class=ExportOperation,
    )
    async def terraform(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        design_id: FromPath[uuid.UUID],
        fmt: Annotated[
            ExportFormat,
            QueryParameter(
                name="format",
                description="`json`: main.tf.json; `hcl`: {version, files: {name: text}}; "
                "`zip`: files, bundled modules and backend.tf",
            ),
        ] = "json",
        version: VersionParam = None,
        if_none_match: IfNoneMatch = None,
    ) -> HttpResponse[TerraformFiles]:
        """The design is validated first: 422 with every problem when it is invalid. The same version
        always gives the same bytes (`ETag` is their hash; `X-Design-Version` says which version).
        The zip's `backend.tf` points at this server's state backend (at `BOARD3_PUBLIC_URL` when set,
        else the address the request reached), state `design-<design id>` of the design's
        organization; pass an API key as `-backend-config=password=...`."""
        base_url = exports.backend_base_url(
            request.app.state.settings.server.public_url, str(request.base_url)
        )
        return _response(
            await exports.export_terraform(principal, design_id, fmt, version, base_url, if_none_match)
        )

    @get(
        "/designs/{design_id:uuid}/diagram.svg",
        summary="Diagram of a design version (SVG)",
        media_type=exports.SVG,
        responses={304: NOT_MODIFIED, 404: NOT_FOUND},
    )
    async def diagram(
        self,
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        design_id: FromPath[uuid.UUID],
        version: VersionParam = None,
        highlight: Annotated[
            list[str] | None,
            QueryParameter(
                description="Node ids to draw highlighted, comma-separated (repeat the parameter for ids "
                "containing commas); ids not in the version are ignored",
            ),
        ] = None,
        if_none_match: IfNoneMatch = None,
        drift: Annotated[
            str | None,
            QueryParameter(
                max_length=36,
                pattern="^(latest|[0-9a-fA-F-]{32,36})$",
                description="Mark the nodes a drift check found changed or deleted outside Terraform: a "
                "check id, or `latest` (the design's latest check with a result; `pipeline:read`)",
            ),
        ] = None,
    ) -> HttpResponse[str]:
        """Layered left-to-right, children inside their parents, one box per node labelled with type and
        name, arrows for edges; highlighted nodes carry the `highlight` class, and with `drift` the
        drifted ones carry `drift-changed` or `drift-deleted` under a legend. Invalid designs are drawn
        too. Needs read access."""
        return _response(
            await exports.diagram(
                principal, design_id, version, highlight or (), if_none_match, drift, deps.drift_marks
            )
        )

    @post(
        "/orgs/{org:str}/designs/import",
        status_code=HTTP_201_CREATED,
        summary="Create a design from Terraform files or a state file",
        operation_class=ImportOperation,
        responses={
            413: _problem("Body, files or resulting canvas beyond the limits"),
            415: _problem("Neither JSON nor multipart/form-data"),
            422: _problem(
                "Unparseable file (`errors[].field` is `files.<name>`, the message gives the line), "
                "invalid state, or both or neither of files and state"
            ),
        },
    )
    async def import_design(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        deps: NamedDependency[DesignDeps],
        org: FromPath[str],
    ) -> HttpResponse[DesignImported]:
        """Needs `design:write`. Resources, data sources, modules, variables and outputs become nodes,
        references become edges; from a state, managed resources of the root module become nodes and
        their dependencies edges. Version 1 is the imported canvas; `warnings` says what was left out
        (locals, provisioners, ignored files...). Nothing is stored when anything fails."""
        data = importer.decode_import(await _import_document(request))
        result = await importer.import_design(principal, deps.cache, org, data)
        response: HttpResponse[Any] = HttpResponse(
            content=result.body,
            status_code=HTTP_201_CREATED,
            media_type="application/json",
            headers={"Location": f"/api/v1/designs/{result.design_id}"},
        )
        return response


async def _import_document(request: Request[Any, Any, Any]) -> bytes | dict[str, Any]:
    """The JSON body as bytes, or a multipart form as the same document (uploads read as text)."""
    content_type, _ = request.content_type
    if content_type == RequestEncodingType.JSON or content_type.endswith("+json"):
        return await request.body()
    if content_type != RequestEncodingType.MULTI_PART:
        raise UnsupportedMediaType(
            f"send application/json or multipart/form-data, not {content_type or 'no Content-Type'}"
        )
    try:
        form = await request.form()
    except UnicodeDecodeError:
        raise BadRequest("a form field is not UTF-8 text", code="malformed-body") from None
    doc: dict[str, Any] = {}
    files: dict[str, str] = {}
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile) and key != "state":
                name = value.filename or key
                if name in files:
                    raise ValidationFailed(
                        f"{name} is uploaded twice", errors=[FieldError(f"files.{name}", "uploaded twice")]
                    )
                files[name] = importer.upload_text(name, await value.read())
            elif key in doc:
                raise ValidationFailed(f"{key} is given twice", errors=[FieldError(key, "given twice")])
            elif key == "state":
                raw = await value.read() if isinstance(value, UploadFile) else value.encode()
                doc["state"] = importer.upload_state(raw)
            else:
                doc[key] = value
    finally:
        for _, value in form.multi_items():
            if isinstance(value, UploadFile):
                await value.close()
    if files:
        if "files" in doc:
            raise ValidationFailed("files must be file uploads", errors=[FieldError("files", "not a file")])
        doc["files"] = files
    return doc
