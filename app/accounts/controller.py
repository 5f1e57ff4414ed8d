"""HTTP routes for authentication, organizations, members, roles and API keys (thin: decode, call, return)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from app.accounts import apikeys, orgs
from app.accounts.auth_service import AuthService, Client
from app.accounts.authz import Principal
from app.accounts.middleware import connection_client
from app.accounts.permissions import PERMISSIONS
from app.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyRead,
    ApiKeySecret,
    LoginRequest,
    MemberAdd,
    MemberRead,
    MemberUpdate,
    MeResponse,
    OrganizationCreate,
    OrganizationRead,
    OrganizationUpdate,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    RoleCreate,
    RoleRead,
    SessionRead,
    TokenPair,
)
from app.lib.schema import Response


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal: NamedDependency[Principal] = request.user
    return principal


def provide_auth_service(request: Request[Any, Any, Any]) -> AuthService:
    service: AuthService = request.app.state.auth_service
    return service


def provide_client(request: Request[Any, Any, Any], auth_service: NamedDependency[AuthService]) -> Client:
    return connection_client(request, auth_service.settings.server.trusted_proxies)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]
    dependencies = {
        "auth_service": Provide(provide_auth_service, sync_to_thread=False),
        "client": Provide(provide_client, sync_to_thread=False),
    }

    @post(
        "/register",
        status_code=HTTP_201_CREATED,
        exclude_from_auth=True,
        summary="Create an account and its first organization",
    )
    async def register(
        self,
        data: JSONBody[RegisterRequest],
        auth_service: NamedDependency[AuthService],
        client: NamedDependency[Client],
    ) -> RegisterResponse:
        """The new user owns the new organization. Returns tokens so the client is logged in at once."""
        return await auth_service.register(data, client)

    @post(
        "/login",
        status_code=HTTP_200_OK,
        exclude_from_auth=True,
        summary="Log in with email and password",
    )
    async def login(
        self,
        data: JSONBody[LoginRequest],
        auth_service: NamedDependency[AuthService],
        client: NamedDependency[Client],
    ) -> TokenPair:
        """Wrong email and wrong password give the same 401, so the answer reveals no accounts."""
        return await auth_service.login(data, client)

    @post(
        "/refresh",
        status_code=HTTP_200_OK,
        exclude_from_auth=True,
        summary="Rotate the refresh token",
    )
    async def refresh(
        self,
        data: JSONBody[RefreshRequest],
        auth_service: NamedDependency[AuthService],
        client: NamedDependency[Client],
    ) -> TokenPair:
        """Each refresh token works once. Presenting a used one again revokes the whole session."""
        return await auth_service.refresh(data.refresh_token, client)

    @post("/logout", status_code=HTTP_204_NO_CONTENT, summary="End the current session")
    async def logout(
        self, principal: NamedDependency[Principal], auth_service: NamedDependency[AuthService]
    ) -> None:
        """Revokes the session of the access token used: its refresh and access tokens stop working."""
        await auth_service.logout(principal)

    @get("/me", summary="The caller and their organizations")
    async def me(
        self, principal: NamedDependency[Principal], auth_service: NamedDependency[AuthService]
    ) -> MeResponse:
        return await auth_service.me(principal)

    @get("/sessions", summary="The caller's active sessions")
    async def sessions(
        self, principal: NamedDependency[Principal], auth_service: NamedDependency[AuthService]
    ) -> list[SessionRead]:
        return await auth_service.list_sessions(principal)

    @delete("/sessions/{session_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Revoke one session")
    async def revoke_session(
        self,
        principal: NamedDependency[Principal],
        auth_service: NamedDependency[AuthService],
        session_id: FromPath[uuid.UUID],
    ) -> None:
        """Its access tokens are refused from the next request on, by every server process."""
        await auth_service.revoke_session(principal, session_id)


class PermissionRead(Response):
    code: str
    description: str


class OrganizationController(Controller):
    path = "/api/v1/orgs"
    tags = ["organizations"]

    @get("/", summary="Organizations of the caller")
    async def list_orgs(self, principal: NamedDependency[Principal]) -> list[OrganizationRead]:
        return await orgs.list_organizations(principal)

    @post("/", status_code=HTTP_201_CREATED, summary="Create an organization (the caller becomes owner)")
    async def create_org(
        self, principal: NamedDependency[Principal], data: JSONBody[OrganizationCreate]
    ) -> OrganizationRead:
        return await orgs.create_organization(principal, data)

    @get("/{org:str}", summary="One organization")
    async def get_org(self, principal: NamedDependency[Principal], org: FromPath[str]) -> OrganizationRead:
        return await orgs.get_organization(principal, org)

    @patch("/{org:str}", summary="Rename an organization (org:admin)")
    async def update_org(
        self, principal: NamedDependency[Principal], org: FromPath[str], data: JSONBody[OrganizationUpdate]
    ) -> OrganizationRead:
        return await orgs.update_organization(principal, org, data)

    @get("/{org:str}/members", summary="Members and their roles")
    async def list_members(
        self, principal: NamedDependency[Principal], org: FromPath[str]
    ) -> list[MemberRead]:
        return await orgs.list_members(principal, org)

    @post(
        "/{org:str}/members",
        status_code=HTTP_201_CREATED,
        summary="Add an existing user by email (org:admin)",
    )
    async def add_member(
        self, principal: NamedDependency[Principal], org: FromPath[str], data: JSONBody[MemberAdd]
    ) -> MemberRead:
        return await orgs.add_member(principal, org, data)

    @patch("/{org:str}/members/{user_id:uuid}", summary="Change a member's role (org:admin)")
    async def update_member(
        self,
        principal: NamedDependency[Principal],
        org: FromPath[str],
        user_id: FromPath[uuid.UUID],
        data: JSONBody[MemberUpdate],
    ) -> MemberRead:
        """The last owner cannot be demoted; only owners grant or take away the owner role."""
        return await orgs.update_member(principal, org, user_id, data)

    @delete(
        "/{org:str}/members/{user_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Remove a member (org:admin), or leave (yourself)",
    )
    async def remove_member(
        self, principal: NamedDependency[Principal], org: FromPath[str], user_id: FromPath[uuid.UUID]
    ) -> None:
        """Access ends at once. The last owner cannot be removed."""
        await orgs.remove_member(principal, org, user_id)

    @get("/{org:str}/roles", summary="Built-in and custom roles")
    async def list_roles(self, principal: NamedDependency[Principal], org: FromPath[str]) -> list[RoleRead]:
        return await orgs.list_roles(principal, org)

    @post("/{org:str}/roles", status_code=HTTP_201_CREATED, summary="Create a custom role (org:admin)")
    async def create_role(
        self, principal: NamedDependency[Principal], org: FromPath[str], data: JSONBody[RoleCreate]
    ) -> RoleRead:
        """A custom role is a named set of permissions; see GET /api/v1/permissions."""
        return await orgs.create_role(principal, org, data)

    @get("/{org:str}/api-keys", summary="API keys (admins see all, others their own)")
    async def list_keys(self, principal: NamedDependency[Principal], org: FromPath[str]) -> list[ApiKeyRead]:
        return await apikeys.list_keys(principal, org)

    @post(
        "/{org:str}/api-keys",
        status_code=HTTP_201_CREATED,
        summary="Create an API key; the secret is shown once",
    )
    async def create_key(
        self, principal: NamedDependency[Principal], org: FromPath[str], data: JSONBody[ApiKeyCreate]
    ) -> ApiKeySecret:
        """Use it as `Authorization: Bearer <key>`, or as the basic-auth password of the state backend."""
        return await apikeys.create_key(principal, org, data)

    @delete("/{org:str}/api-keys/{key_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Revoke an API key")
    async def revoke_key(
        self, principal: NamedDependency[Principal], org: FromPath[str], key_id: FromPath[uuid.UUID]
    ) -> None:
        await apikeys.revoke_key(principal, org, key_id)

    @post(
        "/{org:str}/api-keys/{key_id:uuid}/rotate",
        status_code=HTTP_200_OK,
        summary="Replace an API key's secret; the old one stops working at once",
    )
    async def rotate_key(
        self, principal: NamedDependency[Principal], org: FromPath[str], key_id: FromPath[uuid.UUID]
    ) -> ApiKeySecret:
        return await apikeys.rotate_key(principal, org, key_id)


@get("/api/v1/permissions", tags=["organizations"], summary="Every permission a role can hold")
async def list_permissions() -> list[PermissionRead]:
    return [PermissionRead(code=c, description=d) for c, d in PERMISSIONS.items()]
