"""Organizations, members and roles.

Rules: whoever grants a role must hold every permission in it; nobody changes or removes a member
whose permissions exceed their own; the last owner can be neither removed nor demoted.
"""

from __future__ import annotations

import re
import secrets
import uuid

from app.accounts.authz import Access, Principal, access_for_org, scoped
from app.accounts.emails import normalize_email
from app.accounts.permissions import ASSIGNABLE, BUILTIN_BY_NAME, OWNER_ROLE_ID
from app.accounts.schemas import (
    MemberAdd,
    MemberRead,
    MemberUpdate,
    OrganizationCreate,
    OrganizationRead,
    OrganizationUpdate,
    RoleCreate,
    RoleRead,
)
from app.accounts.tables import Member, Organization, Role, User
from app.db import for_update, on_unique_violation, transaction
from app.events import audit
from app.events.bus import emit
from app.lib.clock import utcnow
from app.lib.errors import BadRequest, Conflict, FieldError, Forbidden, ValidationFailed, not_found
from app.lib.generations import org_generation, renew_after_commit

_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    slug = _SLUG_STRIP.sub("-", name.lower()).strip("-")[:48].strip("-")
    return slug if len(slug) >= 2 else f"org-{slug}".strip("-")


def org_read(org: Organization, role: str | None) -> OrganizationRead:
    return OrganizationRead(
        id=org.id,
        slug=org.slug,
        name=org.name,
        created_at=org.created_at,
        updated_at=org.updated_at,
        role=role,
    )


# --- organizations ------------------------------------------------------------------------------


async def create_organization_for(principal: Principal, name: str, slug: str | None) -> Organization:
    """Create an organization owned by the principal's user. Call inside a transaction.

    A taken slug is settled by the database (``ON CONFLICT DO NOTHING``), so two requests racing for
    one name never abort the transaction; a derived slug then gets a random suffix.
    """
    if principal.user_id is None:
        raise BadRequest("only users can create organizations")
    base = slugify(name)
    candidates = [slug] if slug else [base, *(f"{base[:42]}-{secrets.token_hex(3)}" for _ in range(5))]
    now = utcnow()
    for candidate in candidates:
        org = Organization(slug=candidate, name=name, created_by=principal.user_id, created_at=now)
        inserted = (
            await Organization.insert(org)
            .on_conflict(target=Organization.slug, action="DO NOTHING")
            .returning(Organization.id)
        )
        if inserted:
            break
    else:
        raise Conflict(
            "this slug is already taken", errors=[FieldError("slug", "already taken")], code="slug-taken"
        )
    await Member.insert(
        Member(organization=org.id, user=principal.user_id, role=OWNER_ROLE_ID, created_at=now)
    )
    await audit.record(
        principal,
        "organization.create",
        organization_id=org.id,
        object_type="organization",
        object_id=org.id,
        details={"slug": org.slug, "name": name},
    )
    return org


async def create_organization(principal: Principal, data: OrganizationCreate) -> OrganizationRead:
    name = data.name.strip()
    if not name:
        raise ValidationFailed("name is blank", errors=[FieldError("name", "must not be blank")])
    async with transaction():
        org = await create_organization_for(principal, name, data.slug)
    return org_read(org, "owner")


async def organizations_of_user(user_id: uuid.UUID) -> list[OrganizationRead]:
    rows = (
        await Member.select(*Member.organization.all_columns(), Member.role.name)
        .where(Member.user == user_id)
        .order_by(Member.organization.name)
    )
    return [
        OrganizationRead(
            id=r["organization.id"],
            slug=r["organization.slug"],
            name=r["organization.name"],
            created_at=r["organization.created_at"],
            updated_at=r["organization.updated_at"],
            role=r["role.name"],
        )
        for r in rows
    ]


async def list_organizations(principal: Principal) -> list[OrganizationRead]:
    if principal.user_id is not None:
        return await organizations_of_user(principal.user_id)
    if principal.organization_id is None:
        return []
    org = await Organization.objects().where(Organization.id == principal.organization_id).first()
    return [org_read(org, None)] if org else []


async def get_organization(principal: Principal, slug: str) -> OrganizationRead:
    access = await access_for_org(principal, slug=slug, permission="org:read")
    org = await Organization.objects().where(Organization.id == access.organization_id).first()
    if org is None:
        raise not_found("organization")
    return org_read(org, access.role_name)


async def update_organization(principal: Principal, slug: str, data: OrganizationUpdate) -> OrganizationRead:
    access = await access_for_org(principal, slug=slug, permission="org:admin")
    async with transaction():
        org = await Organization.objects().where(Organization.id == access.organization_id).first()
        if org is None:
            raise not_found("organization")
        changes: dict[str, object] = {}
        if isinstance(data.name, str):
            name = data.name.strip()
            if not name:
                raise ValidationFailed("name is blank", errors=[FieldError("name", "must not be blank")])
            changes["name"] = name
            org.name = name
        if changes:
            await org.save()
            await audit.record(
                principal,
                "organization.update",
                organization_id=org.id,
                object_type="organization",
                object_id=org.id,
                details=changes,
            )
    return org_read(org, access.role_name)


# --- roles ----------------------------------------------------------------------------------------


def role_read(row: dict) -> RoleRead:
    return RoleRead(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        permissions=sorted(row["permissions"] or []),
        builtin=row["builtin"],
    )


async def _roles_visible(access: Access) -> list[dict]:
    return await (
        Role.select()
        .where(Role.organization.is_null() | (Role.organization == access.organization_id))
        .order_by(Role.rank, ascending=False)
        .order_by(Role.name)
        .output(load_json=True)
    )


async def list_roles(principal: Principal, slug: str) -> list[RoleRead]:
    access = await access_for_org(principal, slug=slug, permission="org:read")
    return [role_read(r) for r in await _roles_visible(access)]


async def create_role(principal: Principal, slug: str, data: RoleCreate) -> RoleRead:
    access = await access_for_org(principal, slug=slug, permission="org:admin")
    errors = [
        FieldError(f"permissions[{i}]", f"unknown or non-assignable permission {p!r}")
        for i, p in enumerate(data.permissions)
        if p not in ASSIGNABLE
    ]
    if errors:
        raise ValidationFailed("role has permissions that do not exist or cannot be assigned", errors=errors)
    if data.name in BUILTIN_BY_NAME:
        raise Conflict("that name belongs to a built-in role", errors=[FieldError("name", "reserved")])
    role = Role(
        organization=access.organization_id,
        name=data.name,
        description=data.description,
        permissions=sorted(set(data.permissions)),
        builtin=False,
        rank=0,
        created_at=utcnow(),
    )
    with on_unique_violation(
        Conflict("a role with this name exists", errors=[FieldError("name", "already exists")])
    ):
        async with transaction():
            await role.save()
            await audit.record(
                principal,
                "role.create",
                organization_id=access.organization_id,
                object_type="role",
                object_id=role.id,
                details={"name": data.name, "permissions": role.permissions},
            )
    return RoleRead(
        id=role.id,
        name=role.name,
        description=role.description,
        permissions=list(role.permissions),
        builtin=False,
    )


async def _resolve_role(access: Access, name: str, field: str = "role") -> dict:
    row = await (
        Role.select()
        .where(
            (Role.name == name)
            & (Role.organization.is_null() | (Role.organization == access.organization_id))
        )
        .first()
        .output(load_json=True)
    )
    if row is None:
        raise ValidationFailed(f"no role named {name!r}", errors=[FieldError(field, "unknown role")])
    return row


def _require_grantable(access: Access, permissions: list[str], what: str) -> None:
    missing = sorted(set(permissions) - access.permissions)
    if missing:
        raise Forbidden(f"you cannot {what}: it needs permissions you do not hold ({', '.join(missing)})")


async def grantable_role(access: Access, name: str) -> dict:
    """The role ``name`` of this organization (or a built-in one), if the caller may give it to
    someone: a member cannot grant permissions they do not hold (adding members, invitations)."""
    role = await _resolve_role(access, name)
    _require_grantable(access, role["permissions"] or [], f"grant the role {name!r}")
    return role


# --- members ------------------------------------------------------------------------------------


async def list_members(principal: Principal, slug: str) -> list[MemberRead]:
    access = await access_for_org(principal, slug=slug, permission="org:read")
    rows = await scoped(
        Member,
        access,
        Member.user.id,
        Member.user.email,
        Member.user.name,
        Member.role.name,
        Member.created_at,
    ).order_by(Member.created_at)
    return [
        MemberRead(
            user_id=r["user.id"],
            email=r["user.email"],
            name=r["user.name"],
            role=r["role.name"],
            joined_at=r["created_at"],
        )
        for r in rows
    ]


async def add_member(principal: Principal, slug: str, data: MemberAdd) -> MemberRead:
    access = await access_for_org(principal, slug=slug, permission="org:admin")
    role = await grantable_role(access, data.role)
    email = normalize_email(data.email)
    user = await User.objects().where(User.email == email).first()
    if user is None:
        raise ValidationFailed(
            "no user with this email", errors=[FieldError("email", "no such user")], code="unknown-user"
        )
    now = utcnow()
    with on_unique_violation(
        Conflict(
            "this user is already a member",
            errors=[FieldError("email", "already a member")],
            code="already-member",
        )
    ):
        async with transaction():
            await Member.insert(
                Member(organization=access.organization_id, user=user.id, role=role["id"], created_at=now)
            )
            await memberships_changed(access)
            await audit.record(
                principal,
                "member.add",
                organization_id=access.organization_id,
                object_type="user",
                object_id=user.id,
                details={"email": email, "role": data.role},
            )
            await emit(
                principal,
                "member.added",
                organization_id=access.organization_id,
                object_type="user",
                object_id=user.id,
                data={"user_id": str(user.id), "email": email, "role": role["name"]},
            )
    return MemberRead(user_id=user.id, email=user.email, name=user.name, role=role["name"], joined_at=now)


async def memberships_changed(access: Access) -> None:
    """Call in the transaction of every membership change: once it commits, every process
    forgets what it remembered about this organization's members (``app.lib.generations``)."""
    await renew_after_commit(org_generation(access.organization_id))


async def _member_row(access: Access, user_id: uuid.UUID) -> dict:
    query = scoped(
        Member,
        access,
        Member.id,
        Member.user,
        Member.role,
        Member.role.permissions,
        Member.role.name,
        Member.created_at,
        Member.user.email,
        Member.user.name,
    )
    query = query.where(Member.user == user_id).first().output(load_json=True)
    row = await query
    if row is None:
        raise not_found("member")
    return row


async def _lock_owners(access: Access) -> int:
    """Serialize owner changes in this organization, then count its owners."""
    await for_update(Organization.select(Organization.id).where(Organization.id == access.organization_id))
    return await Member.count().where(
        (Member.organization == access.organization_id) & (Member.role == OWNER_ROLE_ID)
    )


async def update_member(
    principal: Principal, slug: str, user_id: uuid.UUID, data: MemberUpdate
) -> MemberRead:
    access = await access_for_org(principal, slug=slug, permission="org:admin")
    role = await _resolve_role(access, data.role)
    async with transaction():
        owners = await _lock_owners(access)
        row = await _member_row(access, user_id)
        _require_grantable(access, row["role.permissions"] or [], "change this member")
        _require_grantable(access, role["permissions"], f"grant the role {data.role!r}")
        if row["role"] == OWNER_ROLE_ID and role["id"] != OWNER_ROLE_ID and owners <= 1:
            raise Conflict(
                "the last owner cannot be demoted; make someone else owner first", code="last-owner"
            )
        await Member.update({Member.role: role["id"]}).where(Member.id == row["id"])
        await memberships_changed(access)
        await audit.record(
            principal,
            "member.update",
            organization_id=access.organization_id,
            object_type="user",
            object_id=user_id,
            details={"from": row["role.name"], "to": role["name"]},
        )
    return MemberRead(
        user_id=user_id,
        email=row["user.email"],
        name=row["user.name"],
        role=role["name"],
        joined_at=row["created_at"],
    )


async def remove_member(principal: Principal, slug: str, user_id: uuid.UUID) -> None:
    leaving = principal.user_id == user_id
    access = await access_for_org(principal, slug=slug, permission=None if leaving else "org:admin")
    async with transaction():
        owners = await _lock_owners(access)
        row = await _member_row(access, user_id)
        if not leaving:
            _require_grantable(access, row["role.permissions"] or [], "remove this member")
        if row["role"] == OWNER_ROLE_ID and owners <= 1:
            raise Conflict(
                "the last owner cannot be removed; make someone else owner first", code="last-owner"
            )
        await Member.delete().where(Member.id == row["id"])
        await memberships_changed(access)
        await audit.record(
            principal,
            "member.leave" if leaving else "member.remove",
            organization_id=access.organization_id,
            object_type="user",
            object_id=user_id,
            details={"role": row["role.name"]},
        )
        await emit(
            principal,
            "member.removed",
            organization_id=access.organization_id,
            object_type="user",
            object_id=user_id,
            data={
                "user_id": str(user_id),
                "email": row["user.email"],
                "role": row["role.name"],
                "left": leaving,
            },
        )
