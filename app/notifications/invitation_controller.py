"""HTTP routes of invitations (thin: decode, call one service, return)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Operation
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from app.accounts.auth_service import AuthService
from app.accounts.authz import Principal
from app.accounts.middleware import connection_client
from app.config import Settings
from app.lib.errors import Unauthorized
from app.lib.openapi import problem_spec
from app.notifications import invitations
from app.notifications.mail import Mailer
from app.notifications.schemas import (
    InvitationAccept,
    InvitationAccepted,
    InvitationCreate,
    InvitationList,
    InvitationRead,
)


@dataclass
class OptionalAuthOperation(Operation):
    """Callable signed in (a bearer token) or not: both are documented."""

    def __post_init__(self) -> None:
        self.security = [{}, {"BearerToken": []}]


InvitationStatus = Annotated[
    str,
    QueryParameter(
        name="status", pattern="^(pending|expired|accepted|revoked|all)$", description="Which invitations"
    ),
]


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _base_url(request: Request[Any, Any, Any]) -> str:
    """Where invitation links point: BOARD3_PUBLIC_URL, else the address the request came to."""
    return (_settings(request).server.public_url or str(request.base_url)).rstrip("/")


def _mailer(request: Request[Any, Any, Any]) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


class InvitationController(Controller):
    path = "/api/v1"
    tags = ["organizations"]

    @get("/orgs/{org:str}/invitations", summary="An organization's invitations (org:admin)")
    async def list_invitations(
        self, principal: NamedDependency[Principal], org: FromPath[str], status: InvitationStatus = "pending"
    ) -> InvitationList:
        return await invitations.list_invitations(principal, org, status)

    @post(
        "/orgs/{org:str}/invitations",
        status_code=HTTP_201_CREATED,
        summary="Invite someone by email (org:admin); the link goes by email",
    )
    async def invite(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        org: FromPath[str],
        data: JSONBody[InvitationCreate],
    ) -> InvitationRead:
        """You can only invite with a role whose permissions you hold. Without BOARD3_SMTP_URL the
        email is written to the outbox directory (BOARD3_MAIL_OUTBOX)."""
        return await invitations.create_invitation(
            principal, org, data, _mailer(request), _settings(request), _base_url(request)
        )

    @post(
        "/invitations/{invitation_id:uuid}/resend",
        status_code=200,
        summary="Send an invitation again with a new link and expiry",
    )
    async def resend(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        invitation_id: FromPath[uuid.UUID],
    ) -> InvitationRead:
        return await invitations.resend(
            principal, invitation_id, _mailer(request), _settings(request), _base_url(request)
        )

    @delete(
        "/invitations/{invitation_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Revoke an invitation"
    )
    async def revoke(self, principal: NamedDependency[Principal], invitation_id: FromPath[uuid.UUID]) -> None:
        await invitations.revoke(principal, invitation_id)

    @post(
        "/invitations/{token:str}/accept",
        status_code=200,
        exclude_from_auth=True,
        operation_class=OptionalAuthOperation,
        summary="Accept an invitation (signed in, or creating the invited account)",
        responses={
            403: problem_spec("Signed in as someone else than the invited email, or with an API key"),
            409: problem_spec("The invitation was used, revoked or has expired; or you are already a member"),
        },
    )
    async def accept(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        data: JSONBody[InvitationAccept | None] = None,
    ) -> InvitationAccepted:
        """With `Authorization: Bearer <token>` of the invited user: join. Without: `name` and
        `password` create an account for the invited email (as registering does, with its own first
        organization) and join; the response then carries its tokens."""
        auth_service: AuthService = request.app.state.auth_service
        client = connection_client(request, auth_service.settings.server.trusted_proxies)
        principal = None
        if header := request.headers.get("authorization"):
            scheme, _, credential = header.partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                raise Unauthorized("send Authorization: Bearer <token>, or no Authorization header")
            principal = await auth_service.authenticate(credential.strip(), client)
        return await invitations.accept(principal, token, data, auth_service, client)
