"""Accounts tables: users, organizations, roles, permissions, members, API keys, sessions."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    UUID,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from app.lib.clock import utcnow


class User(Table, tablename="users"):
    id = UUID(primary_key=True)
    email = Varchar(length=320, unique=True, index=True)
    name = Varchar(length=200)
    password_hash = Varchar(length=255, secret=True)
    is_active = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz(auto_update=utcnow)


class Organization(Table, tablename="organizations"):
    id = UUID(primary_key=True)
    slug = Varchar(length=64, unique=True, index=True)
    name = Varchar(length=200)
    created_by = UUID(null=True)
    created_at = Timestamptz()
    updated_at = Timestamptz(auto_update=utcnow)


class Permission(Table, tablename="permissions"):
    """The catalogue of permission codes (seeded); roles name sets of these."""

    code = Varchar(length=64, primary_key=True)
    description = Text()


class Role(Table, tablename="roles"):
    """A named set of permissions; ``organization`` is null for the built-in roles.

    Unique (organization, name) by index (see migrations).
    """

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, null=True, index=True)
    name = Varchar(length=64)
    description = Text(default="")
    permissions = JSON(default=[])
    builtin = Boolean(default=False)
    rank = Integer(default=0)
    created_at = Timestamptz()


class Member(Table, tablename="organization_members"):
    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    role = ForeignKey(references=Role, on_delete=OnDelete.restrict)
    created_at = Timestamptz()
    updated_at = Timestamptz(auto_update=utcnow)


class ApiKey(Table, tablename="api_keys"):
    """An organization's API key: only a hash of the secret is stored."""

    id = UUID(primary_key=True)
    organization = ForeignKey(references=Organization, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=100)
    prefix = Varchar(length=32)
    secret_hash = Varchar(length=64, unique=True, index=True, secret=True)
    scopes = JSON(default=[])
    created_by = UUID(null=True)
    created_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class Session(Table, tablename="sessions"):
    """One login: a family of rotating refresh tokens, revocable as a whole."""

    id = UUID(primary_key=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    created_at = Timestamptz()
    last_used_at = Timestamptz()
    expires_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    revoked_reason = Varchar(length=64, null=True, default=None)
    ip = Varchar(length=64, null=True, default=None)
    user_agent = Varchar(length=512, null=True, default=None)


class RefreshToken(Table, tablename="refresh_tokens"):
    """Every refresh token issued; ``used_at`` set on rotation, so a second use is detectable."""

    id = UUID(primary_key=True)
    session = ForeignKey(references=Session, on_delete=OnDelete.cascade, index=True)
    token_hash = Varchar(length=64, unique=True, index=True, secret=True)
    created_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
