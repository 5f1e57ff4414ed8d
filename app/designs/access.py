"""Who may do what on one design: organization membership (role permissions) or a share.

Members get capabilities from their role: ``design:read`` -> read, with ``design:comment`` ->
comment, ``design:write`` -> comment, write and manage (shares, deletion, templates),
``org:admin`` -> moderate (delete any comment). API keys get them from their scopes the same way,
so a key scoped to ``design:read`` alone cannot comment.
A share gives a user who need not be a member ``view`` (read), ``comment`` or ``edit`` (read,
comment, write) on that one design and nothing else. Another tenant's design, or a deleted one,
is "not found"; a known design without the capability is 403.

A user's access facts on a design are remembered per process under two generation tokens
(``app.lib.generations``): the design's (its revision, current version and deletion, and its
shares) and its organization's (memberships and roles). The tokens are read by the request gate
before the handler runs, and every write that changes these facts renews them after its commit,
so a revoked share or a removed member loses access at once, in every process. Routes opt in with
``GENERATION_OPT``; without the tokens (other routes, API keys) access is read from the database.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cachetools import LRUCache

from app.accounts.authz import Access, Principal, access_for_org
from app.designs.tables import Design
from app.lib.errors import Forbidden, NotFound, not_found
from app.lib.generations import OPT_KEY, design_generation, org_generation, renew_after_commit

Capability = Literal["read", "comment", "write", "manage", "moderate"]

SHARE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    "view": frozenset({"read"}),
    "comment": frozenset({"read", "comment"}),
    "edit": frozenset({"read", "comment", "write"}),
}

_DENIED = {
    "read": "you cannot see this design",
    "comment": "commenting needs the 'design:comment' permission or a comment share",
    "write": "this action needs the 'design:write' permission or an edit share",
    "manage": "this action needs the 'design:write' permission in the design's organization",
    "moderate": "only the author or an organization admin can do this",
}


def member_capabilities(permissions: frozenset[str]) -> frozenset[Capability]:
    caps: set[Capability] = set()
    if "design:read" in permissions:
        caps.add("read")
        if "design:comment" in permissions:
            caps.add("comment")
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


# How long remembered access may be reused at most. Renewed tokens end it at once; this only
# bounds what a renewal that could not reach Redis leaves behind.
REMEMBER_SECONDS = 60.0
REMEMBER_MAX_ENTRIES = 50_000


@dataclass(frozen=True, slots=True)
class _Remembered:
    tokens: tuple[str, str]  # (design generation, organization generation) read before the query
    expires: float
    access: DesignAccess  # as resolved for the request that read it; reused with each principal


class _Memory:
    """Per-process memory: which organization owns a design (that never changes), and users'
    access facts stamped with the generation tokens they were read under."""

    def __init__(self) -> None:
        # design id -> (its generation, its organization's generation), the names the gate reads
        self.generations: LRUCache[uuid.UUID, tuple[str, str]] = LRUCache(REMEMBER_MAX_ENTRIES)
        self.access: LRUCache[tuple[uuid.UUID, uuid.UUID], _Remembered] = LRUCache(REMEMBER_MAX_ENTRIES)

    def tokens(self, design_id: uuid.UUID, generations: Mapping[str, str] | None) -> tuple[str, str] | None:
        names = self.generations.get(design_id)
        if generations is None or names is None:
            return None
        design_token = generations.get(names[0])
        org_token = generations.get(names[1])
        if design_token is None or org_token is None:
            return None
        return design_token, org_token

    def learn_owner(self, design_id: uuid.UUID, organization_id: uuid.UUID) -> None:
        if design_id not in self.generations:
            self.generations[design_id] = (design_generation(design_id), org_generation(organization_id))

    def recall(self, key: tuple[uuid.UUID, uuid.UUID], tokens: tuple[str, str]) -> _Remembered | None:
        entry = self.access.get(key)
        if entry is None:
            return None
        if entry.tokens != tokens or entry.expires <= time.monotonic():
            self.access.pop(key, None)
            return None
        return entry

    def remember(self, key: tuple[uuid.UUID, uuid.UUID], entry: _Remembered) -> None:
        self.access[key] = entry


_memory = _Memory()


def design_generations(path_params: dict[str, Any]) -> Sequence[str]:
    """The generations a request on ``/designs/{design_id}`` depends on: the design's, and its
    organization's once this process knows which organization that is."""
    design_id = path_params.get("design_id")
    if not isinstance(design_id, uuid.UUID):
        return ()
    return _memory.generations.get(design_id) or (design_generation(design_id),)


# ``opt`` for routes whose path names a design: the gate reads its generation tokens.
GENERATION_OPT: dict[str, Any] = {OPT_KEY: design_generations}


async def design_access_changed(design_id: uuid.UUID) -> None:
    """Call in the transaction of every write that changes a design's access facts (revision,
    current version, deletion, shares): once it commits, every process forgets them."""
    await renew_after_commit(design_generation(design_id))


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
        access = await _user_access(principal, principal.user_id, design_id)
    else:
        access = await _non_user_access(principal, design_id)
    if need is not None:
        access.require(need)
    return access


async def _user_access(principal: Principal, user_id: uuid.UUID, design_id: uuid.UUID) -> DesignAccess:
    key = (user_id, design_id)
    tokens = _memory.tokens(design_id, principal.generations)  # read before the query below
    entry = _memory.recall(key, tokens) if tokens is not None else None
    if entry is not None:
        return dataclasses.replace(entry.access, principal=principal)
    rows = await Design.raw(_USER_ACCESS_SQL, user_id, user_id, design_id)
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
    _memory.learn_owner(design_id, access.organization_id)
    if tokens is not None:
        _memory.remember(key, _Remembered(tokens, time.monotonic() + REMEMBER_SECONDS, access))
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
