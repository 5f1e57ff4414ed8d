"""The console's navigation: each entry names its page (relative to ``/console/orgs/<org>``) and
the permission that makes it useful; a member sees the entries they can use."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    label: str
    path: str
    permission: str
    group: str = "main"


NAV: tuple[NavItem, ...] = (
    NavItem("designs", "Designs", "/designs", "design:read"),
    NavItem("pipelines", "Pipelines", "/pipelines", "pipeline:read"),
    NavItem("drift", "Drift", "/drift", "pipeline:read"),
    NavItem("states", "States", "/states", "state:read"),
    NavItem("analytics", "Analytics", "/analytics", "pipeline:read", group="org"),
    NavItem("members", "Members", "/members", "org:read", group="org"),
    NavItem("invitations", "Invitations", "/invitations", "org:admin", group="org"),
    NavItem("api-keys", "API keys", "/api-keys", "org:read", group="org"),
    NavItem("webhooks", "Webhooks", "/webhooks", "org:admin", group="org"),
    NavItem("audit", "Audit log", "/audit", "audit:read", group="org"),
)


def nav_for(permissions: frozenset[str]) -> list[NavItem]:
    """The entries this member can use, in order."""
    return [item for item in NAV if item.permission in permissions]
