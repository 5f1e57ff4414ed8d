"""Who may do what on one design: organization membership (role permissions) or a share.

Members get capabilities from their role: ``design:read`` -> read and comment, ``design:write`` ->
write and manage (shares, deletion, templates), ``org:admin`` -> moderate (delete any comment).
A share gives a user who need not be a member ``view`` (read), ``comment`` or ``edit`` (read,
comment, write) on that one design and nothing else. Resolved from the database on every call
(never cached), so a revoked share or removed member loses access at once. Another tenant's
design, or a deleted one, is "not found"; a known design without the capability is 403.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Literal

from app.accounts.authz import Access, Principal, access_for_org
from app.designs.tables import Design
from app.lib.errors import Forbidden, NotFound, not_found

Capability = Literal["read", "comment", "write", "manage", "moderate"]

SHARE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    "view": frozenset({"read"}),
    "comment": frozenset({"read", "comment"}),
    "edit": frozenset({"read", "comment", "write"}),
}

_DENIED = {
    "read": "you cannot see this design",
    "comment": "this design is shared with you without the right to comment",
    "write": "this action needs the 'design:write' permission or an edit share",
    "manage": "this action needs the 'design:write' permission in the design's organization",
    "moderate": "only the author or an organization admin can do this",
}


def member_capabilities(permissions: frozenset[str]) -> frozenset[Capability]:
    caps: set[Capability] = set()
    if "design:read" in permissions:
        caps |= {"read", "comment"}
    if "design:write" in permissions:
        caps |= {"read", "comment", "write", "manage"}
    if "org:admin" in permissions:
        caps.add("moderate")
    return frozenset(caps)


@dataclass(frozen=True, slots=True)
class DesignAccess:
    """The caller's rights on one live design, with the design's routing facts."""

    principal: Principal
    design_id: uuid.UUID
    organization_id: uuid.UUID
    organization_slug: str
    revision: int
    current_version: int
    capabilities: frozenset[Capability]
    member: bool
    share: str | None = None

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def require(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            raise Forbidden(_DENIED[capability])


# One round trip for users: the design, the caller's membership role and the caller's share.
# Same rule as app.accounts.authz (member permissions = the role's permissions), joined because
# every design request pays for it.
_USER_ACCESS_SQL = """
SELECT d.organization AS organization_id, o.slug AS organization_slug, d.revision AS revision,
       d.current_version AS current_version, m.id AS member_id, r.permissions AS role_permissions,
       s.permission AS share
FROM designs d
JOIN organizations o ON o.id = d.organization
LEFT JOIN organization_members m ON m.organization = d.organization AND m."user" = {}
LEFT JOIN roles r ON r.id = m.role
LEFT JOIN design_shares s ON s.design = d.id AND s."user" = {}
WHERE d.id = {} AND d.deleted_at IS NULL
"""


def _permissions(raw: object) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if isinstance(raw, str):
        raw = json.loads(raw)
    return frozenset(raw) if isinstance(raw, list) else frozenset()


async def design_access(
    principal: Principal, design_id: uuid.UUID, need: Capability | None = "read"
) -> DesignAccess:
    """Resolve and check the principal's access to a live design (404 when it has none)."""
    if principal.kind == "user" and principal.user_id is not None:
        rows = await Design.raw(_USER_ACCESS_SQL, principal.user_id, principal.user_id, design_id)
        if not rows:
            raise not_found("design")
        row = rows[0]
        member = row["member_id"] is not None
        caps = member_capabilities(_permissions(row["role_permissions"])) if member else frozenset()
        share = row["share"]
        if share is not None:
            caps = caps | SHARE_CAPABILITIES.get(share, frozenset())
        if not caps:
            if member:
                raise Forbidden(_DENIED["read"])
            raise not_found("design")
        access = DesignAccess(
            principal=principal,
            design_id=design_id,
            organization_id=_uuid(row["organization_id"]),
            organization_slug=row["organization_slug"],
            revision=row["revision"],
            current_version=row["current_version"],
            capabilities=caps,
            member=member,
            share=share,
        )
    else:
        access = await _non_user_access(principal, design_id)
    if need is not None:
        access.require(need)
    return access


async def _non_user_access(principal: Principal, design_id: uuid.UUID) -> DesignAccess:
    """API keys, run tokens and the system: organization access only (shares are for users)."""
    row = (
        await Design.select(
            Design.organization, Design.organization.slug, Design.revision, Design.current_version
        )
        .where((Design.id == design_id) & Design.deleted_at.is_null())
        .first()
    )
    if row is None:
        raise not_found("design")
    try:
        org_access: Access = await access_for_org(principal, org_id=row["organization"])
    except NotFound:
        raise not_found("design") from None
    caps = member_capabilities(org_access.permissions)
    if not caps:
        raise Forbidden(_DENIED["read"])
    return DesignAccess(
        principal=principal,
        design_id=design_id,
        organization_id=row["organization"],
        organization_slug=row["organization.slug"],
        revision=row["revision"],
        current_version=row["current_version"],
        capabilities=caps,
        member=True,
    )


def _uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
