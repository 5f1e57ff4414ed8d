"""Terraform's ``http`` backend on ``/tf/{org}/{state}`` (thin routes over ``backend`` and ``locks``).

LOCK and UNLOCK are not methods Litestar can route (its handlers accept only the standard HTTP
methods), so ``TerraformMethods`` rewrites them before routing: LOCK/UNLOCK on ``/tf/{org}/{state}``
or ``/tf/{org}/{state}/lock`` become POST/DELETE on ``.../lock``. Bodies are read here, chunked or
not, up to the state size limit (413 past it), without an intermediate copy, and only once the
service has checked the caller's access: another tenant's key, or one without ``state:write``,
is answered 404/403 without its body being read (the server discards it as it arrives).
"""

from __future__ import annotations

import base64
import functools
from typing import Annotated, Any, cast

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, QueryParameter
from litestar.response import Response
from litestar.response.base import ASGIResponse
from litestar.types import ASGIApp, Receive, Scope, Send

from app.accounts.authz import Principal
from app.config import get_settings
from app.lib.errors import BadRequest
from app.lib.errors import too_large as body_too_large
from app.lib.schema import ProblemDetails
from app.states import backend, locks
from app.states.header import MAX_LOCK_BODY, LockInfo

LOCK_METHODS = {"LOCK": "POST", "UNLOCK": "DELETE"}
JSON = "application/json"

LockId = Annotated[
    str | None,
    QueryParameter(name="ID", max_length=128, description="The lock id, when the writer holds the lock"),
]
ContentMD5 = Annotated[
    str | None,
    HeaderParameter(
        name="content-md5", max_length=64, description="base64 MD5 of the body (checked if sent)"
    ),
]
Force = Annotated[
    bool,
    QueryParameter(
        description="Skip the lineage and serial checks (`state:admin`); an older serial is stored as "
        "current + 1"
    ),
]


PROBLEM = "application/problem+json"
STATE_DOCUMENT = ResponseSpec(
    dict[str, Any],
    description="The current state document (Terraform state format 4)",
    media_type=JSON,
    generate_examples=False,
)
NO_STATE = ResponseSpec(None, description="No state yet")
EMPTY_OK = ResponseSpec(None, description="Done (empty body)")
LOCKED = ResponseSpec(
    ProblemDetails,
    description="Locked by someone else: a problem whose top level also holds the holder's lock info "
    "(`ID`, `Operation`, `Who`, `Info`, `Version`, `Created`, `Path`), as Terraform expects",
    media_type=PROBLEM,
    generate_examples=False,
)
TOO_LARGE = ResponseSpec(
    ProblemDetails,
    description="Larger than `BOARD3_MAX_STATE_BYTES` (the detail names the limit)",
    media_type=PROBLEM,
    generate_examples=False,
)


class TerraformMethods:
    """ASGI wrapper: route Terraform's LOCK/UNLOCK as POST/DELETE on ``/tf/{org}/{state}/lock``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = str(scope.get("method", ""))
        if scope["type"] == "http" and method in LOCK_METHODS and scope["path"].startswith("/tf/"):
            parts = scope["path"].split("/")
            # ["", "tf", org, state] or ["", "tf", org, state, "lock"]
            if len(parts) == 4 or (len(parts) == 5 and parts[4] == "lock"):
                path = "/".join(parts[:4]) + "/lock"
                rewrite = {"method": LOCK_METHODS[method], "path": path, "raw_path": path.encode()}
                scope = cast(Scope, {**scope, **rewrite})
        await self.app(scope, receive, send)


async def read_body(request: Request[Any, Any, Any], limit: int, setting: str | None) -> bytearray:
    """The whole body (chunked or with Content-Length) in one buffer; 413 beyond ``limit``, naming
    the ``setting`` that raises it (None: a fixed limit)."""
    what = "the state" if setting else "the lock info"
    too_large = body_too_large(what, limit, setting)
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            expected = int(declared)
        except ValueError:
            raise BadRequest("Content-Length is not a number", code="bad-content-length") from None
        if expected > limit:
            raise too_large
    buf = bytearray()
    async for chunk in request.stream():
        if len(buf) + len(chunk) > limit:
            raise too_large
        buf += chunk
    return buf


def _state_limit() -> int:
    return get_settings().limits.max_state_bytes


class TerraformBackendController(Controller):
    """Terraform/OpenTofu ``backend "http"``: basic auth, password = API key."""

    path = "/tf"
    tags = ["terraform-backend"]
    request_max_body_size = None  # bodies are bounded by read_body (BOARD3_MAX_STATE_BYTES)
    security = [{"BasicAuth": []}, {"BearerToken": []}]

    @get(
        "/{org:str}/{name:str}",
        summary="Current state (Terraform http backend)",
        responses={200: STATE_DOCUMENT, 204: NO_STATE},
    )
    async def read(
        self, principal: NamedDependency[Principal], org: FromPath[str], name: FromPath[str]
    ) -> Response[bytes]:
        """200 with the current state document, 204 when the state has no version yet
        (`state:read`). `Content-MD5` carries the base64 MD5 Terraform verifies."""
        current = await backend.read_current(principal, org, name)
        if current is None:
            return Response(content=b"", status_code=204)
        data, md5_hex = current
        md5 = base64.b64encode(bytes.fromhex(md5_hex)).decode()
        return Response(content=data, status_code=200, media_type=JSON, headers={"Content-MD5": md5})

    @post(
        "/{org:str}/{name:str}",
        status_code=200,
        summary="Write a new state version",
        responses={200: EMPTY_OK, 413: TOO_LARGE, 423: LOCKED},
    )
    async def write(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        name: FromPath[str],
        lock_id: LockId = None,
        content_md5: ContentMD5 = None,
        force: Force = False,
    ) -> Response[bytes]:
        """Stores the body as a new version (`state:write`; `?ID=` must be the holder's lock id when
        locked, else 423 with the holder's lock info). Same serial and bytes: 200, nothing stored.
        Older serial, other lineage, or same serial with other bytes: 409. Not a state: 400. Over
        `BOARD3_MAX_STATE_BYTES`: 413. A refused write changes nothing."""
        body = functools.partial(read_body, request, _state_limit(), "BOARD3_MAX_STATE_BYTES")
        await backend.write_state(
            principal, org, name, body, lock_id=lock_id, content_md5=content_md5, force=force
        )
        return Response(content=b"", status_code=200)

    @post(
        "/{org:str}/{name:str}/lock",
        status_code=200,
        summary="LOCK (also POST) the state",
        responses={
            200: ResponseSpec(
                LockInfo, description="Taken: the lock info", media_type=JSON, generate_examples=False
            ),
            413: TOO_LARGE,
            423: LOCKED,
        },
    )
    async def lock(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        name: FromPath[str],
    ) -> ASGIResponse:
        """Body: Terraform's lock info. 200 when taken; 423 with the holder's lock info otherwise
        (`state:write`). Creates the state on first use."""
        info = await locks.lock(
            principal, org, name, functools.partial(read_body, request, MAX_LOCK_BODY, None)
        )
        # An ASGI response goes out as it is: LOCK and UNLOCK are the hot path of a state backend.
        return ASGIResponse(body=info, media_type=JSON)

    @delete(
        "/{org:str}/{name:str}/lock",
        status_code=200,
        summary="UNLOCK (also DELETE) the state",
        responses={200: EMPTY_OK, 413: TOO_LARGE, 423: LOCKED},
    )
    async def unlock(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        name: FromPath[str],
    ) -> ASGIResponse:
        """Body: the holder's lock info (releases; another id gets 423 with the holder's info).
        An empty body is `terraform force-unlock` and needs `state:admin`."""
        await locks.unlock(principal, org, name, functools.partial(read_body, request, MAX_LOCK_BODY, None))
        return ASGIResponse(body=b"")
