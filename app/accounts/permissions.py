"""Permission codes and the built-in roles (owner > admin > developer > viewer).

A role is a named set of permission codes. Custom roles are any subset of the assignable codes.
Whoever grants a role must hold every permission in it, so nobody can hand out more than they have.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

PERMISSIONS: dict[str, str] = {
    "org:read": "See the organization, its members and roles",
    "org:admin": "Update the organization; add, change and remove members; manage roles and webhooks",
    "org:owner": "Grant or take away the owner role",
    "apikey:write": "Create, rotate and revoke API keys (within one's own permissions)",
    "audit:read": "Read the organization's audit log",
    "design:read": "See designs, versions, templates and resources",
    "design:comment": "Comment on designs one can see, and resolve comment threads",
    "design:write": "Create, change and delete designs; publish templates",
    "state:read": "Read Terraform states and their versions",
    "state:write": "Write Terraform states, take and release locks",
    "state:admin": "Force-unlock, restore and delete states; read sensitive outputs",
    "pipeline:read": "See pipelines, executions, logs and drift checks",
    "pipeline:write": "Create and configure pipelines and their variables",
    "pipeline:run": "Start and cancel executions and drift checks",
    "pipeline:approve": "Approve executions that need approval",
}

# Commenting is a permission of its own, so that a read-only API key writes nothing; every built-in
# role has it (members could always comment on what they see).
VIEWER = frozenset({"org:read", "design:read", "design:comment", "state:read", "pipeline:read"})
DEVELOPER = VIEWER | {"design:write", "state:write", "pipeline:write", "pipeline:run", "apikey:write"}
ADMIN = DEVELOPER | {"org:admin", "audit:read", "state:admin", "pipeline:approve"}
OWNER = ADMIN | {"org:owner"}

# Permissions a custom role or an API key may carry (ownership is never delegated).
ASSIGNABLE = frozenset(PERMISSIONS) - {"org:owner"}


@dataclass(frozen=True, slots=True)
class BuiltinRole:
    name: str
    description: str
    permissions: frozenset[str]
    rank: int

    @property
    def id(self) -> uuid.UUID:
        """Stable id, so seeding is idempotent across databases and restarts."""
        return uuid.uuid5(uuid.NAMESPACE_URL, f"https://board3.dev/roles/{self.name}")


BUILTIN_ROLES: tuple[BuiltinRole, ...] = (
    BuiltinRole("owner", "Full control, including ownership", OWNER, 40),
    BuiltinRole("admin", "Manage the organization, members, approvals and states", ADMIN, 30),
    BuiltinRole("developer", "Design, run pipelines and write states", DEVELOPER, 20),
    BuiltinRole("viewer", "Read-only access", VIEWER, 10),
)
BUILTIN_BY_NAME = {r.name: r for r in BUILTIN_ROLES}
OWNER_ROLE_ID = BUILTIN_BY_NAME["owner"].id
