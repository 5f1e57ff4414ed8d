"""The console's navigation, and where pages of domains that are not wired yet plug in.

Each entry names the page (relative to ``/console/orgs/<org>``) and the permission that makes it
useful; entries whose ``enabled`` is False stay hidden. Drift checks, webhooks and invitations
live in packages built alongside the console: once one is merged, add its controller to
``app.console.routes.CONTROLLERS`` and set ``enabled=True`` here (docs/console.md, "Extending").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    label: str
    path: str
    permission: str
    enabled: bool = True
    group: str = "main"


NAV: tuple[NavItem, ...] = (
    NavItem("designs", "Designs", "/designs", "design:read"),
    NavItem("pipelines", "Pipelines", "/pipelines", "pipeline:read"),
    NavItem("drift", "Drift", "/drift", "pipeline:read", enabled=False),  # app.drift: not merged yet
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
    return [item for item in NAV if item.enabled and item.permission in permissions]
