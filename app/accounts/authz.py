"""Authorization: what a caller (``Principal``, from ``app.lib.principal``) may do in one organization
(``Access``).

Every public service method starts by resolving access through ``access_for_org`` (or
``access_for_org(org_id=...)`` once an object reached by id has named its organization),
and scopes its queries with ``scoped``. Another
tenant's organization or object is always "not found", never "forbidden"; a member who lacks a
permission gets 403.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from piccolo.columns import Column
from piccolo.table import Table

from app.accounts.permissions import OWNER
from app.accounts.tables import Member, Organization
from app.lib.errors import Forbidden, not_found
from app.lib.principal import Principal


@dataclass(frozen=True, slots=True)
class Access:
    """What a principal may do in one organization (resolved fresh for each call)."""

    principal: Principal
    organization_id: uuid.UUID
    organization_slug: str
    permissions: frozenset[str]
    role_name: str | None = None

    def has(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise Forbidden(f"this action needs the {permission!r} permission", code="forbidden")


async def access_for_org(
    principal: Principal,
    *,
    slug: str | None = None,
    org_id: uuid.UUID | None = None,
    permission: str | None = None,
) -> Access:
    """Resolve the principal's access to an organization given by slug or id (one query).

    Raises NotFound when the organization does not exist or the principal is not part of it (the
    two are indistinguishable on purpose), and Forbidden when ``permission`` is given and not held.
    """
    if slug is None and org_id is None:
        raise ValueError("slug or org_id is required")
    if principal.kind == "user":
        access = await _member_access(principal, slug, org_id)
    elif principal.kind == "system":  # background jobs act as owner of any organization
        query = Organization.select(Organization.id, Organization.slug)
        org = await query.where(
            Organization.slug == slug if slug is not None else Organization.id == org_id
        ).first()
        if org is None:
            raise not_found("organization")
        access = Access(principal, org["id"], org["slug"], OWNER, None)
    else:
        # API keys and run tokens belong to one organization, named on the principal, and carry
        # fixed scopes: no query. Slugs never change, so comparing them is as good as comparing ids.
        mine = (
            slug == principal.organization_slug if slug is not None else org_id == principal.organization_id
        )
        if not mine or principal.organization_id is None or principal.organization_slug is None:
            raise not_found("organization")
        access = Access(
            principal, principal.organization_id, principal.organization_slug, principal.scopes or frozenset()
        )
    if permission is not None:
        access.require(permission)
    return access


async def _member_access(principal: Principal, slug: str | None, org_id: uuid.UUID | None) -> Access:
    """A user's role in the organization, found from the membership side: no row means "not found"
    whether the organization is missing or the user is not a member."""
    assert principal.user_id is not None
    in_org = Member.organization._.slug == slug if slug is not None else Member.organization == org_id
    row = (
        await Member.select(
            Member.organization._.id,
            Member.organization._.slug,
            Member.role._.permissions,
            Member.role._.name,
        )
        .where(in_org & (Member.user == principal.user_id))
        .first()
        .output(load_json=True)
    )
    if row is None:
        raise not_found("organization")
    permissions = frozenset(row["role.permissions"] or [])
    return Access(principal, row["organization.id"], row["organization.slug"], permissions, row["role.name"])


async def org_ids_with(principal: Principal, permission: str) -> list[uuid.UUID]:
    """Every organization in which the principal holds ``permission`` (for cross-organization lists)."""
    if principal.kind == "system":
        return [r["id"] for r in await Organization.select(Organization.id)]
    if principal.kind == "user":
        rows = (
            await Member.select(Member.organization, Member.role._.permissions)
            .where(Member.user == principal.user_id)
            .output(load_json=True)
        )
        return [r["organization"] for r in rows if permission in (r["role.permissions"] or [])]
    if principal.organization_id is not None and permission in (principal.scopes or frozenset()):
        return [principal.organization_id]
    return []


def tenant_column(table: type[Table]) -> Column:
    """The column that says which organization a row belongs to."""
    column = getattr(table, "organization", None) or getattr(table, "organization_id", None)
    if not isinstance(column, Column):
        raise TypeError(f"{table.__name__} has no organization column")
    return column


def scoped(table: type[Table], access: Access, *columns: Any) -> Any:
    """``SELECT`` restricted to the organization of ``access`` (the one tenant-scoping helper)."""
    query = table.select(*columns) if columns else table.objects()
    return query.where(tenant_column(table) == access.organization_id)
