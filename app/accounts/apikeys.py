"""Organization API keys: scoped, optionally expiring, shown once, stored as a hash.

A key carries a fixed set of scopes chosen at creation, never more than its creator held then,
and follows its creator afterwards: it acts within the creator's current permissions and stops
when the creator leaves the organization (``app.accounts.apikey_auth``). A key created with a key
belongs to that key's creator. Keys cannot be handed to the organization; automation that must
outlive a person gets a member account of its own. Admins (``org:admin``) see and revoke every key
of the organization; others their own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from app.accounts import credentials
from app.accounts.apikey_auth import apikey_generation, effective_scopes
from app.accounts.authz import Access, Principal, access_for_org, scoped
from app.accounts.credentials import API_KEY_PREFIX
from app.accounts.permissions import ASSIGNABLE
from app.accounts.schemas import ApiKeyCreate, ApiKeyRead, ApiKeySecret
from app.accounts.tables import ApiKey, Member
from app.db import transaction
from app.events import audit
from app.lib.clock import utcnow
from app.lib.errors import Conflict, FieldError, ValidationFailed, not_found
from app.lib.generations import renew_after_commit


def key_read(row: ApiKey, creator_permissions: list[str] | None, now: dt.datetime) -> ApiKeyRead:
    """``creator_permissions`` is the creator's current role in the key's organization, None when
    the creator is not a member (any more)."""
    status: Any = "active"
    if row.revoked_at is not None:
        status = "revoked"
    elif row.expires_at is not None and row.expires_at <= now:
        status = "expired"
    elif creator_permissions is None:
        status = "creator_removed"
    return ApiKeyRead(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=sorted(row.scopes or []),
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        status=status,
        effective_scopes=sorted(effective_scopes(row.scopes or [], creator_permissions or [])),
    )


async def _member_permissions(access: Access) -> dict[uuid.UUID, list[str]]:
    """Each member of the organization and their role's permissions."""
    rows = await scoped(Member, access, Member.user, Member.role.permissions).output(load_json=True)
    return {r["user"]: r["role.permissions"] or [] for r in rows}


def key_creator(principal: Principal) -> uuid.UUID | None:
    """Who a key created by ``principal`` belongs to: the user, or the creator of the key used."""
    if principal.user_id is not None:
        return principal.user_id
    creator = principal.extra.get("creator_id") if principal.kind == "api_key" else None
    return creator if isinstance(creator, uuid.UUID) else None


async def keys_changed(*key_ids: uuid.UUID) -> None:
    """Call in the transaction that revokes or rotates keys: once it commits, every process
    forgets what it remembered about them."""
    await renew_after_commit(*(apikey_generation(k) for k in key_ids))


def _visible(access: Access):
    query = scoped(ApiKey, access)
    if not access.has("org:admin"):
        owner = access.principal.user_id
        # A non-admin sees the keys they created; an API key (no user) without org:admin sees none.
        query = query.where(ApiKey.created_by == owner) if owner else query.where(ApiKey.id.is_null())
    return query


async def create_key(principal: Principal, slug: str, data: ApiKeyCreate) -> ApiKeySecret:
    access = await access_for_org(principal, slug=slug, permission="apikey:write")
    allowed = access.permissions & ASSIGNABLE
    if data.scopes is None:
        scopes = sorted(allowed)
    else:
        errors = [
            FieldError(
                f"scopes[{i}]",
                f"{s!r} is not a permission you hold" if s in ASSIGNABLE else f"{s!r} is not a permission",
            )
            for i, s in enumerate(data.scopes)
            if s not in allowed
        ]
        if errors:
            raise ValidationFailed("an API key cannot have more permissions than its creator", errors=errors)
        scopes = sorted(set(data.scopes))
    now = utcnow()
    if data.expires_at is not None:
        if data.expires_at.tzinfo is None:
            raise ValidationFailed(
                "expires_at needs a time zone",
                errors=[FieldError("expires_at", "use an RFC 3339 time with offset")],
            )
        if data.expires_at <= now:
            raise ValidationFailed(
                "expires_at is in the past", errors=[FieldError("expires_at", "must be in the future")]
            )
    secret = credentials.new_secret(API_KEY_PREFIX)
    row = ApiKey(
        organization=access.organization_id,
        name=data.name.strip() or "key",
        prefix=credentials.display_prefix(secret),
        secret_hash=credentials.sha256_hex(secret),
        scopes=scopes,
        created_by=key_creator(principal),
        created_at=now,
        expires_at=data.expires_at,
    )
    async with transaction():
        await row.save()
        await audit.record(
            principal,
            "apikey.create",
            organization_id=access.organization_id,
            object_type="api_key",
            object_id=row.id,
            details={"name": row.name, "prefix": row.prefix, "scopes": scopes},
        )
    return ApiKeySecret(api_key=key_read(row, sorted(access.permissions), now), key=secret)


async def list_keys(principal: Principal, slug: str) -> list[ApiKeyRead]:
    access = await access_for_org(principal, slug=slug, permission="org:read")
    rows = await _visible(access).order_by(ApiKey.created_at, ascending=False).output(load_json=True)
    members = await _member_permissions(access)
    now = utcnow()
    return [key_read(r, members.get(r.created_by) if r.created_by else None, now) for r in rows]


async def _get_visible(access: Access, key_id: uuid.UUID) -> ApiKey:
    row = await _visible(access).where(ApiKey.id == key_id).first().output(load_json=True)
    if row is None:
        raise not_found("API key")
    return row


async def revoke_key(principal: Principal, slug: str, key_id: uuid.UUID) -> None:
    access = await access_for_org(principal, slug=slug, permission="apikey:write")
    async with transaction():
        row = await _get_visible(access, key_id)
        if row.revoked_at is None:
            await ApiKey.update({ApiKey.revoked_at: utcnow()}).where(ApiKey.id == row.id)
            await keys_changed(row.id)
            await audit.record(
                principal,
                "apikey.revoke",
                organization_id=access.organization_id,
                object_type="api_key",
                object_id=row.id,
                details={"prefix": row.prefix},
            )


async def rotate_key(principal: Principal, slug: str, key_id: uuid.UUID) -> ApiKeySecret:
    """Replace the secret; the old one stops working at once. Name, scopes and expiry stay."""
    access = await access_for_org(principal, slug=slug, permission="apikey:write")
    secret = credentials.new_secret(API_KEY_PREFIX)
    async with transaction():
        row = await _get_visible(access, key_id)
        if row.revoked_at is not None:
            raise Conflict("a revoked key cannot be rotated", code="key-revoked")
        old_prefix = row.prefix
        row.prefix = credentials.display_prefix(secret)
        row.secret_hash = credentials.sha256_hex(secret)
        await ApiKey.update({ApiKey.prefix: row.prefix, ApiKey.secret_hash: row.secret_hash}).where(
            ApiKey.id == row.id
        )
        await keys_changed(row.id)
        await audit.record(
            principal,
            "apikey.rotate",
            organization_id=access.organization_id,
            object_type="api_key",
            object_id=row.id,
            details={"old_prefix": old_prefix, "prefix": row.prefix},
        )
    members = await _member_permissions(access)
    creator = members.get(row.created_by) if row.created_by else None
    return ApiKeySecret(api_key=key_read(row, creator, utcnow()), key=secret)
