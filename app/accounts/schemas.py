"""Request and response schemas for accounts, organizations, members, roles and API keys."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from app.lib.schema import Request, Response

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320, examples=["ada@example.com"])]
Password = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=1024,
        description="At least BOARD3_PASSWORD_MIN_LENGTH characters (default 10).",
        examples=["correct horse battery staple"],
    ),
]
PersonName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Ada Lovelace"])]
OrgName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Analytical Engines"])]
Slug = Annotated[
    str,
    msgspec.Meta(
        min_length=2,
        max_length=64,
        pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
        description="Lower-case letters, digits and dashes; used in URLs and cannot change.",
        examples=["analytical-engines"],
    ),
]
RoleName = Annotated[
    str,
    msgspec.Meta(min_length=2, max_length=64, pattern=r"^[a-z][a-z0-9_-]*$", examples=["release-manager"]),
]
PermissionCode = Annotated[str, msgspec.Meta(max_length=64, examples=["design:write"])]
KeyName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, examples=["ci-pipeline"])]


# --- auth -----------------------------------------------------------------------------------


class RegisterRequest(Request):
    """Create an account and its first organization (owned by the new user)."""

    email: Email
    password: Password
    name: PersonName
    organization: OrgName | None = None
    """Name of the first organization; defaults to "<name>'s organization"."""


class LoginRequest(Request):
    email: Email
    password: Password


class RefreshRequest(Request):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class TokenPair(Response):
    """An access token (JWT, short-lived) and a refresh token (opaque, single use, rotates)."""

    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int = 900


class UserRead(Response):
    id: uuid.UUID
    email: str
    name: str
    created_at: dt.datetime


class OrganizationRead(Response):
    id: uuid.UUID
    slug: str
    name: str
    created_at: dt.datetime
    updated_at: dt.datetime
    role: str | None = None


class RegisterResponse(Response):
    user: UserRead
    organization: OrganizationRead
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int = 900


class MeResponse(Response):
    """The caller: a user with their organizations, or an API key with its organization and scopes."""

    kind: str
    user: UserRead | None
    organizations: list[OrganizationRead]
    scopes: list[str] | None = None
    session_id: uuid.UUID | None = None


class SessionRead(Response):
    id: uuid.UUID
    created_at: dt.datetime
    last_used_at: dt.datetime
    expires_at: dt.datetime
    ip: str | None
    user_agent: str | None
    current: bool


# --- organizations ------------------------------------------------------------------------------


class OrganizationCreate(Request):
    name: OrgName
    slug: Slug | None = None


class OrganizationUpdate(Request):
    name: OrgName | msgspec.UnsetType = msgspec.UNSET


class MemberRead(Response):
    user_id: uuid.UUID
    email: str
    name: str
    role: str
    joined_at: dt.datetime


class MemberAdd(Request):
    """Add an existing user (by email) with a role (built-in or custom, by name)."""

    email: Email
    role: RoleName = "developer"


class MemberUpdate(Request):
    role: RoleName


class RoleRead(Response):
    id: uuid.UUID
    name: str
    description: str
    permissions: list[str]
    builtin: bool


class RoleCreate(Request):
    name: RoleName
    permissions: Annotated[list[PermissionCode], msgspec.Meta(min_length=1, max_length=64)]
    description: Annotated[str, msgspec.Meta(max_length=500)] = ""


# --- API keys -----------------------------------------------------------------------------------


class ApiKeyCreate(Request):
    """Scopes default to all of the creator's permissions (never ownership)."""

    name: KeyName
    scopes: Annotated[list[PermissionCode], msgspec.Meta(max_length=64)] | None = None
    expires_at: dt.datetime | None = None


ApiKeyStatus = Literal["active", "revoked", "expired", "creator_removed"]


class ApiKeyRead(Response):
    """A key works only while its creator is a member of the organization, and only within the
    creator's current permissions: ``effective_scopes`` is what it may do now."""

    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_by: uuid.UUID | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    status: Annotated[
        ApiKeyStatus,
        msgspec.Meta(
            description="`creator_removed`: the member who created the key has left the organization, "
            "so the key is refused"
        ),
    ] = "active"
    effective_scopes: Annotated[
        list[str], msgspec.Meta(description="`scopes` within the creator's current role permissions")
    ] = msgspec.field(default_factory=list)


class ApiKeySecret(Response):
    """The key's secret is in ``key``; it is shown only in this response."""

    api_key: ApiKeyRead
    key: str
